//! Version 1 of the `counter` hot module: a count and a check of sequenced messages.

use std::time::Duration;

use ferrotp_abi::{Host, HotModule};
use hot_counter_api::{Counter, CounterCall, CounterCast, CounterReply};
use serde::{Deserialize, Serialize};

/// The state of version 1.
#[derive(Debug, Serialize, Deserialize)]
pub struct CounterV1 {
    count: u64,
    received: u64,
    last: u64,
    out_of_order: u64,
}

impl HotModule for CounterV1 {
    type Interface = Counter;
    const VSN: &'static str = "1";

    fn init(start: u64, _: &mut Host<'_, Counter>) -> Result<Self, String> {
        Ok(CounterV1 {
            count: start,
            received: 0,
            last: 0,
            out_of_order: 0,
        })
    }

    fn handle_call(&mut self, request: CounterCall, _: &mut Host<'_, Counter>) -> CounterReply {
        match request {
            CounterCall::Get => CounterReply::Count(self.count),
            CounterCall::Describe => CounterReply::Text(format!("v1: count {}", self.count)),
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
            CounterCast::Add(n) => self.count += n,
            CounterCast::Seq(n) => {
                if n != self.last + 1 {
                    self.out_of_order += 1;
                }
                self.last = n;
                self.received += 1;
            }
            CounterCast::Crash => panic!("counter v1 asked to crash"),
            CounterCast::AddLater { n, after_ms } => {
                host.cast_self_after(Duration::from_millis(after_ms), &CounterCast::Add(n));
            }
            CounterCast::Spawn(start) => {
                host.spawn(&start);
            }
        }
    }
}

ferrotp_abi::export_module!(CounterV1);
