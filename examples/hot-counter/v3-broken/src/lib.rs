//! A broken version 3 of the `counter` hot module: its `code_change` refuses every state, so
//! an upgrade to it rolls back and leaves the running version in place.

use ferrotp_abi::{Host, HotModule};
use hot_counter_api::{Counter, CounterCall, CounterCast, CounterReply};
use serde::{Deserialize, Serialize};

/// The state version 3 would have had.
#[derive(Debug, Serialize, Deserialize)]
pub struct CounterV3 {
    count: u64,
}

impl HotModule for CounterV3 {
    type Interface = Counter;
    const VSN: &'static str = "3";

    fn init(start: u64, _: &mut Host<'_, Counter>) -> Result<Self, String> {
        Ok(CounterV3 { count: start })
    }

    fn handle_call(&mut self, request: CounterCall, _: &mut Host<'_, Counter>) -> CounterReply {
        match request {
            CounterCall::Version => CounterReply::Text(Self::VSN.into()),
            _ => CounterReply::Count(self.count),
        }
    }

    fn handle_cast(&mut self, message: CounterCast, _: &mut Host<'_, Counter>) {
        if let CounterCast::Add(n) = message {
            self.count += n;
        }
    }

    fn code_change(from_vsn: &str, _old_state: &[u8], _extra: &[u8]) -> Result<Self, String> {
        Err(format!(
            "counter v3 does not know how to read a version {from_vsn} state (deliberately broken)"
        ))
    }
}

ferrotp_abi::export_module!(CounterV3);
