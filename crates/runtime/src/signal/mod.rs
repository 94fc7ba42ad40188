//! Exit signals, links and monitors.
//!
//! A process that terminates sends an exit signal carrying its reason to every process linked
//! to it, and a [`Down`](crate::Down) message to every process monitoring it. What an exit
//! signal does to its receiver is decided by one pure function, [`decide`], which is OTP's
//! table; everything else here only moves signals to where that table is applied.
//!
//! * **Links** are bidirectional and there is at most one between two processes; `link` twice
//!   is one link, and `unlink` from either side removes it. Once `unlink` returns, the link
//!   has no further effect on the caller (an `Exit` message may already be queued).
//! * **Monitors** are unidirectional and independent: monitoring the same process twice gives
//!   two references and two `Down`s. Monitoring a dead process gives an immediate `Down` with
//!   [`ExitReason::NoProc`](crate::ExitReason::NoProc). `demonitor` removes the monitor, and
//!   with `flush` also an already queued `Down`.
//! * **Ordering**: signals and messages between one pair of processes arrive in the order they
//!   were sent; a dying process's `Exit`/`Down` comes after every message it sent before.

mod decide;
pub(crate) mod ops;

pub use decide::{decide, Effect, Origin};
