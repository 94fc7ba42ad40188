//! `#[hot_interface]`: the messages of a hot module, declared as a trait.
//!
//! A hot module's interface crate declares a trait: `&self` methods are calls, methods marked
//! `#[cast]` are casts, and a last parameter `&mut Host<..>` gives a handler the host's
//! effects. The macro keeps the trait (without the markers) and generates what the module and
//! its callers share: the `<Trait>Call`, `<Trait>Reply` and `<Trait>Cast` enums (serde), the
//! `<Trait>Interface` marker implementing `ferrotp_abi::Interface` and `ferrotp_abi::Dispatch`
//! for every implementor of the trait, and `<Trait>Client`, typed calls on any
//! `ferrotp_abi::Client` (the loader's `HotClient`). Same structure as `#[gen_server]`: parse
//! into a spanned model, report every error at once, expand with absolute paths.

mod expand;
mod model;

pub(crate) use expand::hot_interface;
