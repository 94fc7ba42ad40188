//! Erlang's distribution protocol for ferrotp: terms, and (in the modules to come) nodes that
//! join Erlang and Elixir clusters.
//!
//! This crate speaks the External Term Format ([`Term`], [`to_term`], [`from_term`]): every
//! message between nodes is made of terms.

#![forbid(unsafe_code)]

pub mod serde;
pub mod term;

pub use crate::serde::{from_term, to_term, SerdeError};
pub use term::{
    Atom, BigInt, DecodeError, DecodeLimits, EncodeError, ExternalPid, ExternalPort, ExternalRef,
    Term,
};
