//! Version 2 of the `counter` hot module: it also counts how many additions it made, and
//! describes itself with that figure. Its `code_change` migrates version 1's state, and its
//! `downgrade` writes version 1's format back.

use std::time::Duration;

use ferrotp_abi::{codec, Host, HotModule};
use hot_counter_api::{Counter, CounterCall, CounterCast, CounterReply};
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
    /// New in version 2: how many `Add` messages were handled since the upgrade.
    additions: u64,
}

impl HotModule for CounterV2 {
    type Interface = Counter;
    const VSN: &'static str = "2";

    fn init(start: u64, _: &mut Host<'_, Counter>) -> Result<Self, String> {
        Ok(CounterV2 {
            count: start,
            received: 0,
            last: 0,
            out_of_order: 0,
            additions: 0,
        })
    }

    fn handle_call(&mut self, request: CounterCall, _: &mut Host<'_, Counter>) -> CounterReply {
        match request {
            CounterCall::Get => CounterReply::Count(self.count),
            CounterCall::Describe => CounterReply::Text(format!(
                "v2: count {} after {} additions",
                self.count, self.additions
            )),
            CounterCall::Version => CounterReply::Text(Self::VSN.into()),
            CounterCall::Sequence => CounterReply::Sequence {
                received: self.received,
                last: self.last,
                out_of_order: self.out_of_order,
            },
        }
    }

    fn handle_cast(&mut self, message: CounterCast, host: &mut Host<'_, Counter>) {
        match message {
            CounterCast::Add(n) => {
                self.count += n;
                self.additions += 1;
                if self.additions % 1000 == 0 {
                    host.debug(&format!("{} additions", self.additions));
                }
            }
            CounterCast::Seq(n) => {
                if n != self.last + 1 {
                    self.out_of_order += 1;
                }
                self.last = n;
                self.received += 1;
            }
            CounterCast::Crash => panic!("counter v2 asked to crash"),
            CounterCast::AddLater { n, after_ms } => {
                host.cast_self_after(Duration::from_millis(after_ms), &CounterCast::Add(n));
            }
            CounterCast::Spawn(start) => {
                host.spawn(&start);
            }
        }
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
