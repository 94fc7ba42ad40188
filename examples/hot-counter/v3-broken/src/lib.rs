//! A broken version 3 of the `counter` hot module: its `code_change` refuses every state, so
//! an upgrade to it rolls back and leaves the running version in place.

use ferrotp_abi::{Host, HotModule};
use hot_counter_api::{Counter, CounterInterface, Sequence};
use serde::{Deserialize, Serialize};

/// The state version 3 would have had.
#[derive(Debug, Serialize, Deserialize)]
pub struct CounterV3 {
    count: u64,
}

impl Counter for CounterV3 {
    fn get(&self) -> u64 {
        self.count
    }

    fn describe(&self) -> String {
        format!("v3: {}", self.count)
    }

    fn version(&self) -> String {
        Self::VSN.into()
    }

    fn sequence(&self) -> Sequence {
        Sequence {
            received: 0,
            last: 0,
            out_of_order: 0,
        }
    }

    fn add(&mut self, n: u64) {
        self.count += n;
    }

    fn seq(&mut self, _: u64) {}

    fn crash(&mut self) {
        panic!("counter v3 asked to crash");
    }

    fn add_later(&mut self, _: u64, _: u64, _: &mut Host<'_, CounterInterface>) {}

    fn spawn(&mut self, _: u64, _: &mut Host<'_, CounterInterface>) {}
}

impl HotModule for CounterV3 {
    type Interface = CounterInterface;
    const VSN: &'static str = "3";

    fn init(start: u64, _: &mut Host<'_, CounterInterface>) -> Result<Self, String> {
        Ok(CounterV3 { count: start })
    }

    fn code_change(from_vsn: &str, _old_state: &[u8], _extra: &[u8]) -> Result<Self, String> {
        Err(format!(
            "counter v3 does not know how to read a version {from_vsn} state (deliberately broken)"
        ))
    }
}

ferrotp_abi::export_module!(CounterV3);
