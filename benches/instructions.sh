#!/usr/bin/env bash
# Instructions per operation, ferrotp beside plain tokio, counted by callgrind: unlike wall-clock
# time, the count does not move with the machine's load. Run it on every change to a hot path.
#
#   benches/instructions.sh            # call, cast, hop, spawn+exit, restart, crash
#   benches/instructions.sh call hop   # only these
#
# Each operation runs on a single-threaded runtime (FERROTP_BENCH_OP=<op>:<n>) twice, with
# N and 2N operations; the difference divided by N is the cost of one operation, free of setup.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq valgrind
fi
# The bench profile (one code-generation unit, see Cargo.toml), as `cargo bench` builds it.
cargo bench --bench runtime --no-run --quiet 2>/dev/null || cargo bench --bench runtime --no-run
bench=$(ls -t target/release/deps/runtime-* | grep -v '\.d$' | head -n 1)

ops=("$@")
if [ ${#ops[@]} -eq 0 ]; then
  ops=(call call-process cast hop spawn restart crash)
fi

count() { # op n -> instructions
  local out
  out=$(mktemp)
  FERROTP_BENCH_OP="$1:$2" valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bench" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
  rm -f "$out"
}

per_op() { # op n
  local a b
  a=$(count "$1" "$2")
  b=$(count "$1" $(( $2 * 2 )))
  echo $(( (b - a) / $2 ))
}

n_of() {
  case "$1" in
    restart|crash) echo 2000 ;;
    spawn) echo 5000 ;;
    *) echo 20000 ;;
  esac
}

printf '| operation | plain tokio | ferrotp | ferrotp / tokio |\n|---|---:|---:|---:|\n'
for op in "${ops[@]}"; do
  n=$(n_of "$op")
  ours=$(per_op "$op" "$n")
  base_op="${op%-process}-tokio"
  base=$(per_op "$base_op" "$n")
  ratio=$(awk -v o="$ours" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f×", o / b; else print "–" }')
  printf '| %s | %s | %s | %s |\n' "$op" "$base" "$ours" "$ratio"
done
