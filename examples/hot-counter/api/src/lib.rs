//! The interface of the `counter` hot module: what its host sends and gets back. Every
//! version of the module implements it; the host's typed client is built from it.

use serde::{Deserialize, Serialize};

/// The `counter` module's interface.
#[derive(Debug)]
pub struct Counter;

impl ferrotp_abi::Interface for Counter {
    const MODULE: &'static str = "counter";
    type Args = u64;
    type Call = CounterCall;
    type Reply = CounterReply;
    type Cast = CounterCast;
}

/// Requests that expect a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CounterCall {
    /// The current count.
    Get,
    /// A one-line description of the state, in the running version's words.
    Describe,
    /// The running module version.
    Version,
    /// How many sequenced messages arrived, the last sequence number, and how many arrived out
    /// of order.
    Sequence,
}

/// Replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CounterReply {
    /// For [`CounterCall::Get`].
    Count(u64),
    /// For [`CounterCall::Describe`] and [`CounterCall::Version`].
    Text(String),
    /// For [`CounterCall::Sequence`].
    Sequence {
        /// Sequenced messages handled.
        received: u64,
        /// The last sequence number seen.
        last: u64,
        /// Messages whose number was not the previous one plus one.
        out_of_order: u64,
    },
}

/// Fire-and-forget messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CounterCast {
    /// Add to the count.
    Add(u64),
    /// A sequenced message: numbers must arrive as 1, 2, 3, …
    Seq(u64),
    /// Panic inside the handler (to show a crash and a supervised restart).
    Crash,
    /// Add `n` after `after_ms` milliseconds (a host timer).
    AddLater {
        /// What to add.
        n: u64,
        /// When, in milliseconds from now.
        after_ms: u64,
    },
    /// Start another counter process, starting from the given count.
    Spawn(u64),
}
