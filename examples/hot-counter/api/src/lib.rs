//! The interface of the `counter` hot module: what its host sends and gets back. Every
//! version of the module implements the [`Counter`] trait; the host calls it through
//! [`CounterClient`], implemented by the loader's `HotClient<CounterInterface>`.

use ferrotp_abi::{hot_interface, Host};
use serde::{Deserialize, Serialize};

/// What [`Counter::sequence`] reports: how sequenced messages arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    /// Sequenced messages handled.
    pub received: u64,
    /// The last sequence number seen.
    pub last: u64,
    /// Messages whose number was not the previous one plus one.
    pub out_of_order: u64,
}

/// A counter that also checks the order of numbered messages.
#[hot_interface(module = "counter", args = u64)]
pub trait Counter {
    /// The current count.
    fn get(&self) -> u64;
    /// A one-line description of the state, in the running version's words.
    fn describe(&self) -> String;
    /// The running module version.
    fn version(&self) -> String;
    /// How the numbered messages arrived.
    fn sequence(&self) -> Sequence;
    /// Add to the count.
    #[cast]
    fn add(&mut self, n: u64);
    /// A numbered message: numbers must arrive as 1, 2, 3, …
    #[cast]
    fn seq(&mut self, n: u64);
    /// Panic inside the handler (to show a crash and a supervised restart).
    #[cast]
    fn crash(&mut self);
    /// Add `n` after `after_ms` milliseconds (a host timer).
    #[cast]
    fn add_later(&mut self, n: u64, after_ms: u64, host: &mut Host<'_, CounterInterface>);
    /// Start another counter process, from the given count.
    #[cast]
    fn spawn(&mut self, start: u64, host: &mut Host<'_, CounterInterface>);
}
