//! Version 1 of the `counter` hot module: a count and a check of numbered messages.

use std::time::Duration;

use ferrotp_abi::{Host, HotModule};
use hot_counter_api::{Counter, CounterCast, CounterInterface, Sequence};
use serde::{Deserialize, Serialize};

/// The state of version 1.
#[derive(Debug, Serialize, Deserialize)]
pub struct CounterV1 {
    count: u64,
    received: u64,
    last: u64,
    out_of_order: u64,
}

impl Counter for CounterV1 {
    fn get(&self) -> u64 {
        self.count
    }

    fn describe(&self) -> String {
        format!("v1: count {}", self.count)
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
    }

    fn seq(&mut self, n: u64) {
        if n != self.last + 1 {
            self.out_of_order += 1;
        }
        self.last = n;
        self.received += 1;
    }

    fn crash(&mut self) {
        panic!("counter v1 asked to crash");
    }

    fn add_later(&mut self, n: u64, after_ms: u64, host: &mut Host<'_, CounterInterface>) {
        host.cast_self_after(Duration::from_millis(after_ms), &CounterCast::Add { n });
    }

    fn spawn(&mut self, start: u64, host: &mut Host<'_, CounterInterface>) {
        host.spawn(&start);
    }
}

impl HotModule for CounterV1 {
    type Interface = CounterInterface;
    const VSN: &'static str = "1";

    fn init(start: u64, _: &mut Host<'_, CounterInterface>) -> Result<Self, String> {
        Ok(CounterV1 {
            count: start,
            received: 0,
            last: 0,
            out_of_order: 0,
        })
    }
}

ferrotp_abi::export_module!(CounterV1);
