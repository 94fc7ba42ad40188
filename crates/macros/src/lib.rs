//! Macros that declare ferrotp GenServers.
//!
//! `#[gen_server]` on an `impl` block turns methods into a server: `init` builds the state,
//! methods marked `#[call]` answer requests, methods marked `#[cast]` take fire-and-forget
//! messages. It generates the message types, the `GenServer` impl with its dispatch, and a
//! typed client (`<Type>Client`) with one method per handler, plus `start`, `start_link`,
//! `start_with` and `child_spec`. Use it through the `ferrotp` facade:
//! `#[ferrotp::gen_server]`; the facade's docs show a complete example.
//!
//! The crate is built like `serde_derive`: parse into a model that keeps spans (`model.rs`),
//! validate everything and report every error at once, then expand with absolute paths
//! (`expand.rs`). When the input has errors, the impl block is still emitted (without the
//! handler attributes) so that the rest of the program type-checks and an IDE stays useful.

mod expand;
mod hot;
mod model;

use proc_macro::TokenStream;

/// Declare a GenServer from an `impl` block. See the `ferrotp` crate docs for the full syntax.
#[proc_macro_attribute]
pub fn gen_server(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let item = proc_macro2::TokenStream::from(item);
    expand::gen_server(attr, item).into()
}

/// Declare the interface of a hot module as a trait: calls (`&self`), casts (`#[cast]`,
/// `&mut self`), optionally a last `&mut Host<..>` parameter for effects. Generates the
/// message enums, the `Interface` and `Dispatch` impls, and a typed client trait. Use it as
/// `ferrotp_abi::hot_interface`; that crate's docs show a complete module.
#[proc_macro_attribute]
pub fn hot_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    hot::hot_interface(attr.into(), item.into()).into()
}
