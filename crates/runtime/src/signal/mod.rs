//! Exit signals, links and monitors: the machinery behind the rules documented on
//! [`process`](crate::process). What an exit signal does to its receiver is decided by one pure
//! function, `decide`, which is OTP's table; everything else here only moves signals to where
//! that table is applied.

mod decide;
pub(crate) mod ops;

pub(crate) use decide::{decide, Effect, Origin};
