//! The External Term Format: what BEAM writes decodes to the right term, what ferrotp writes
//! decodes in BEAM to the right value, and no byte string makes the decoder misbehave.

mod common;

use common::{binary_literal, erl_eval, erlang_available, parse_binary};
use ferrotp_dist::{
    Atom, BigInt, DecodeError, DecodeLimits, EncodeError, ExternalPid, ExternalRef, Term,
};

fn atom(s: &str) -> Term {
    Term::atom(s)
}

/// Pairs of an Erlang expression and the term it must decode to.
fn samples() -> Vec<(&'static str, Term)> {
    vec![
        ("ok", atom("ok")),
        ("'Elixir.Foo'", atom("Elixir.Foo")),
        ("'héllo'", atom("héllo")),
        ("0", Term::Integer(0)),
        ("255", Term::Integer(255)),
        ("256", Term::Integer(256)),
        ("-1", Term::Integer(-1)),
        ("-2147483648", Term::Integer(-2147483648)),
        ("2147483648", Term::Integer(2147483648)),
        ("9223372036854775807", Term::Integer(i64::MAX)),
        ("-9223372036854775808", Term::Integer(i64::MIN)),
        ("1 bsl 70", Term::BigInt(BigInt::from(1i128 << 70))),
        ("-(1 bsl 100)", Term::BigInt(BigInt::from(-(1i128 << 100)))),
        ("3.5", Term::Float(3.5)),
        ("-0.125", Term::Float(-0.125)),
        ("<<>>", Term::binary(Vec::new())),
        ("<<\"bin\">>", Term::binary(b"bin".to_vec())),
        (
            "<<1:3>>",
            Term::BitBinary {
                bytes: vec![0b0010_0000],
                bits: 3,
            },
        ),
        ("[]", Term::nil()),
        (
            "\"str\"",
            Term::list("str".bytes().map(|b| Term::Integer(b.into()))),
        ),
        (
            "[1, a, <<2>>]",
            Term::list([Term::Integer(1), atom("a"), Term::binary(vec![2])]),
        ),
        (
            "[1 | 2]",
            Term::ImproperList(vec![Term::Integer(1)], Box::new(Term::Integer(2))),
        ),
        ("{}", Term::tuple([])),
        ("{ok, 1}", Term::tuple([atom("ok"), Term::Integer(1)])),
        (
            "list_to_tuple(lists:seq(1, 300))",
            Term::Tuple((1..=300).map(Term::Integer).collect()),
        ),
        ("#{}", Term::Map(vec![])),
        ("#{a => 1}", Term::Map(vec![(atom("a"), Term::Integer(1))])),
        (
            "fun erlang:self/0",
            Term::Export {
                module: Atom::new("erlang"),
                function: Atom::new("self"),
                arity: 0,
            },
        ),
        (
            "[{nested, [#{k => {1, [2.0]}}]}]",
            Term::list([Term::tuple([
                atom("nested"),
                Term::list([Term::Map(vec![(
                    atom("k"),
                    Term::tuple([Term::Integer(1), Term::list([Term::Float(2.0)])]),
                )])]),
            ])]),
        ),
    ]
}

#[test]
fn every_sample_round_trips_through_our_own_codec() {
    for (expr, term) in samples() {
        let bytes = term.encode().unwrap();
        assert_eq!(Term::decode(&bytes).unwrap(), term, "{expr}");
    }
}

#[test]
fn what_beam_encodes_decodes_to_the_expected_term() {
    if !erlang_available("what_beam_encodes_decodes_to_the_expected_term") {
        return;
    }
    // One erl run for all samples: a list of their encodings.
    let exprs: Vec<&str> = samples().iter().map(|(e, _)| *e).collect();
    let all = format!("[term_to_binary(X) || X <- [{}]]", exprs.join(", "));
    let printed = erl_eval(&format!("lists:join(<<\";\">>, {all})"));
    // Printed with ~w as a list of binaries separated by <<59>> (";"): split on it.
    let inner = printed.trim().trim_start_matches('[').trim_end_matches(']');
    let parts: Vec<&str> = inner.split(",<<59>>,").collect();
    assert_eq!(parts.len(), exprs.len(), "{printed}");
    for ((expr, expected), part) in samples().into_iter().zip(parts) {
        let bytes = parse_binary(part);
        assert_eq!(Term::decode(&bytes), Ok(expected), "{expr}: {part}");
    }
}

#[test]
fn what_we_encode_beam_decodes_to_the_expected_value() {
    if !erlang_available("what_we_encode_beam_decodes_to_the_expected_value") {
        return;
    }
    let checks: Vec<String> = samples()
        .into_iter()
        .filter(|(_, t)| !matches!(t, Term::Export { .. }))
        .map(|(expr, term)| {
            format!(
                "(binary_to_term({}) =:= ({expr}))",
                binary_literal(&term.encode().unwrap())
            )
        })
        .collect();
    let printed = erl_eval(&format!("[{}]", checks.join(", ")));
    let results: Vec<&str> = printed
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .collect();
    assert!(results.iter().all(|r| *r == "true"), "{printed}");
}

#[test]
fn pids_references_and_ports_from_beam_decode_and_encode_back_equal() {
    if !erlang_available("pids_references_and_ports_from_beam_decode_and_encode_back_equal") {
        return;
    }
    let printed = erl_eval("term_to_binary({self(), make_ref(), hd(erlang:ports())})");
    let bytes = parse_binary(&printed);
    let term = Term::decode(&bytes).unwrap();
    let Term::Tuple(items) = &term else {
        panic!("{term}")
    };
    assert!(matches!(&items[0], Term::Pid(p) if p.node.as_str() == "nonode@nohost"));
    assert!(matches!(&items[1], Term::Ref(r) if r.id.len() == 3));
    assert!(matches!(&items[2], Term::Port(_)));
    // Encoded again by us, BEAM reads back the very same pid, reference and port.
    let ours = term.encode().unwrap();
    let same = erl_eval(&format!(
        "binary_to_term({}) =:= binary_to_term({})",
        binary_literal(&bytes),
        binary_literal(&ours)
    ));
    assert_eq!(same.trim(), "true");
}

#[test]
fn a_compressed_term_decodes() {
    if !erlang_available("a_compressed_term_decodes") {
        return;
    }
    let printed = erl_eval("term_to_binary(lists:duplicate(1000, hello), [compressed])");
    let bytes = parse_binary(&printed);
    assert_eq!(bytes[1], 80, "compressed");
    assert_eq!(
        Term::decode(&bytes).unwrap(),
        Term::List(vec![atom("hello"); 1000])
    );
}

#[test]
fn a_pid_and_a_reference_made_here_round_trip() {
    let pid = ExternalPid {
        node: Atom::new("rust@localhost"),
        id: 42,
        serial: 7,
        creation: 0x1234_5678,
    };
    let reference = ExternalRef {
        node: Atom::new("rust@localhost"),
        creation: 3,
        id: vec![1, 2, 3, 4, 5],
    };
    let t = Term::tuple([Term::Pid(pid), Term::Ref(reference)]);
    assert_eq!(Term::decode(&t.encode().unwrap()).unwrap(), t);
}

// ---- Hostile input --------------------------------------------------------------------------

#[test]
fn a_truncated_term_is_an_error_at_every_cut() {
    let bytes = Term::tuple([
        atom("ok"),
        Term::list([Term::Integer(1000), Term::binary(b"abc".to_vec())]),
    ])
    .encode()
    .unwrap();
    for cut in 0..bytes.len() {
        assert!(Term::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_count_larger_than_the_input_is_refused_before_any_allocation() {
    // A list of 4 billion elements, a binary of 4 GB, a map of 4 billion pairs: 6 bytes each.
    for tag in [108u8, 109, 116, 105] {
        let bytes = [131, tag, 0xff, 0xff, 0xff, 0xff];
        assert!(
            matches!(Term::decode(&bytes), Err(DecodeError::Oversized { .. })),
            "tag {tag}"
        );
    }
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_without_overflowing_the_stack() {
    // 100,000 nested one-element lists: [[[[...]]]].
    let mut bytes = vec![131];
    for _ in 0..100_000 {
        bytes.extend_from_slice(&[108, 0, 0, 0, 1]);
    }
    // The innermost element, then each list's tail.
    bytes.resize(bytes.len() + 100_001, 106);
    assert_eq!(Term::decode(&bytes), Err(DecodeError::TooDeep(1024)));
    let shallow = DecodeLimits::default().max_depth(10);
    let nested = Term::list([Term::list([Term::list([Term::nil()])])]);
    assert!(Term::decode_with(&nested.encode().unwrap(), &shallow).is_ok());
}

#[test]
fn a_term_nested_to_the_limit_decodes_and_encodes_back_on_a_small_stack() {
    let deepest = (0..1024).fold(Term::nil(), |inner, _| Term::list([inner]));
    let bytes = deepest.encode().unwrap();
    let on_a_small_stack = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let term = Term::decode(&bytes).unwrap();
            assert_eq!(term.encode().unwrap(), bytes);
        })
        .unwrap()
        .join();
    assert!(on_a_small_stack.is_ok());
    let deeper = Term::list([deepest]);
    assert_eq!(deeper.encode(), Err(EncodeError::TooDeep(1024)));
}

#[test]
fn a_decompression_bomb_is_stopped_at_the_limit() {
    use std::io::Write;
    // 100 MB of zeros in a binary, compressed to ~100 KB, declared honestly.
    let mut inner = vec![109];
    inner.extend_from_slice(&(100_000_000u32).to_be_bytes());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&inner).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        z.write_all(&zeros).unwrap();
    }
    let data = z.finish().unwrap();
    let mut bytes = vec![131, 80];
    bytes.extend_from_slice(&((inner.len() + 100 * (1 << 20)) as u32).to_be_bytes());
    bytes.extend_from_slice(&data);
    assert!(matches!(
        Term::decode(&bytes),
        Err(DecodeError::BadCompression(_))
    ));
    // A compressed term that lies about its size is refused too.
    let mut lying = bytes.clone();
    lying[2..6].copy_from_slice(&10u32.to_be_bytes());
    assert!(matches!(
        Term::decode(&lying),
        Err(DecodeError::BadCompression(_))
    ));
}

#[test]
fn atoms_over_255_characters_and_invalid_utf8_atoms_are_refused() {
    let mut long = vec![131, 118, 1, 0];
    long.extend(std::iter::repeat_n(b'a', 256));
    assert!(matches!(Term::decode(&long), Err(DecodeError::BadAtom(_))));
    let bad = [131, 119, 2, 0xc3, 0x28];
    assert!(matches!(Term::decode(&bad), Err(DecodeError::BadAtom(_))));
    assert!(Term::Atom(Atom::new(&"a".repeat(256))).encode().is_err());
}

#[test]
fn tags_that_only_belong_to_a_distribution_header_are_refused() {
    for tag in [68u8, 82, 117, 121, 0, 255] {
        assert!(
            matches!(
                Term::decode(&[131, tag, 0, 0, 0, 0]),
                Err(DecodeError::UnknownTag { .. })
            ),
            "tag {tag}"
        );
    }
    assert_eq!(Term::decode(&[130, 106]), Err(DecodeError::BadVersion(130)));
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic fuzz in the test suite; `fuzz/` runs the real one.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<Vec<u8>> = samples()
        .into_iter()
        .map(|(_, t)| t.encode().unwrap())
        .collect();
    for i in 0..20_000 {
        let mut bytes = seeds[i % seeds.len()].clone();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        if next() % 3 == 0 {
            bytes.truncate((next() as usize) % (bytes.len() + 1));
        }
        let _ = Term::decode(&bytes);
    }
}
