//! Version 2 of the `counter` hot module: it also counts how many additions it made, and
//! describes itself with that figure. Its `code_change` migrates version 1's state, and its
//! `downgrade` writes version 1's format back.

use std::time::Duration;

use ferrotp_abi::{codec, Host, HotModule};
use hot_counter_api::{Counter, CounterCast, CounterInterface, Sequence};
use serde::{Deserialize, Serialize};

/// Version 1's state, as version 1 wrote it: what `code_change` reads and `downgrade` writes.
#[derive(Debug, Serialize, Deserialize)]
struct CounterV1 {
    count: u64,
    received: u64,
    last: u64,
    out_of_order: u64,
}

/// The state of version 2: version 1's plus `additions`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CounterV2 {
    count: u64,
    received: u64,
    last: u64,
    out_of_order: u64,
    /// New in version 2: how many additions were made since the upgrade.
    additions: u64,
}

impl Counter for CounterV2 {
    fn get(&self) -> u64 {
        self.count
    }

    fn describe(&self) -> String {
        format!(
            "v2: count {} after {} additions",
            self.count, self.additions
        )
    }

    fn version(&self) -> String {
        Self::VSN.into()
    }

    fn sequence(&self) -> Sequence {
        Sequence {
            received: self.received,
            last: self.last,
            out_of_order: self.out_of_order,
        }
    }

    fn add(&mut self, n: u64) {
        self.count += n;
        self.additions += 1;
    }

    fn seq(&mut self, n: u64) {
        if n != self.last + 1 {
            self.out_of_order += 1;
        }
        self.last = n;
        self.received += 1;
    }

    fn crash(&mut self) {
        panic!("counter v2 asked to crash");
    }

    fn add_later(&mut self, n: u64, after_ms: u64, host: &mut Host<'_, CounterInterface>) {
        host.debug(&format!("adding {n} in {after_ms} ms"));
        host.cast_self_after(Duration::from_millis(after_ms), &CounterCast::Add { n });
    }

    fn spawn(&mut self, start: u64, host: &mut Host<'_, CounterInterface>) {
        host.spawn(&start);
    }
}

impl HotModule for CounterV2 {
    type Interface = CounterInterface;
    const VSN: &'static str = "2";

    fn init(start: u64, _: &mut Host<'_, CounterInterface>) -> Result<Self, String> {
        Ok(CounterV2 {
            count: start,
            received: 0,
            last: 0,
            out_of_order: 0,
            additions: 0,
        })
    }

    fn code_change(from_vsn: &str, old_state: &[u8], _extra: &[u8]) -> Result<Self, String> {
        match from_vsn {
            "1" => {
                let old: CounterV1 = codec::decode(old_state).map_err(|e| e.to_string())?;
                Ok(CounterV2 {
                    count: old.count,
                    received: old.received,
                    last: old.last,
                    out_of_order: old.out_of_order,
                    additions: 0,
                })
            }
            "2" => codec::decode(old_state).map_err(|e| e.to_string()),
            other => Err(format!("counter v2 cannot migrate from version {other}")),
        }
    }

    fn downgrade(&self, to_vsn: &str, _extra: &[u8]) -> Result<Vec<u8>, String> {
        if to_vsn != "1" {
            return Err(format!("counter v2 cannot downgrade to version {to_vsn}"));
        }
        codec::encode(&CounterV1 {
            count: self.count,
            received: self.received,
            last: self.last,
            out_of_order: self.out_of_order,
        })
        .map_err(|e| e.to_string())
    }
}

ferrotp_abi::export_module!(CounterV2);
