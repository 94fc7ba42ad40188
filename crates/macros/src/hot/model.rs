//! The model of a `#[hot_interface]` trait.

use proc_macro2::TokenStream;
use syn::{FnArg, ItemTrait, Pat, ReturnType, TraitItem, Type};

use crate::model::{camel, Errors};

/// The attribute's options.
pub(crate) struct Options {
    pub(crate) module: Option<syn::LitStr>,
    pub(crate) args: Option<Type>,
}

pub(crate) struct Method {
    pub(crate) name: syn::Ident,
    pub(crate) variant: syn::Ident,
    pub(crate) cast: bool,
    /// Message fields: the parameters other than `self` and the host.
    pub(crate) fields: Vec<(syn::Ident, Type)>,
    pub(crate) takes_host: bool,
    /// The reply type of a call (`()` when it returns nothing).
    pub(crate) reply: Type,
}

pub(crate) struct InterfaceModel {
    pub(crate) methods: Vec<Method>,
}

pub(crate) fn parse_options(attr: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options {
        module: None,
        args: None,
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("module") {
            options.module = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("args") {
            options.args = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown option; #[hot_interface] takes `module = \"name\"` and `args = Type`",
            ))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, attr.clone()) {
        errors.add(e);
    }
    if options.module.is_none() {
        errors.push(
            &attr,
            "#[hot_interface] needs the module's name: `#[hot_interface(module = \"counter\", args = u64)]`",
        );
    }
    options
}

/// Whether `ty` is `&mut Host<..>` (any path ending in `Host`).
fn is_host(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => match &*r.elem {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Host"),
            _ => false,
        },
        _ => false,
    }
}

pub(crate) fn parse_trait(item: &mut ItemTrait, errors: &mut Errors) -> InterfaceModel {
    if !item.generics.params.is_empty() {
        errors.push(
            &item.generics,
            "a hot interface cannot be generic: its messages cross a library boundary as bytes",
        );
    }
    let mut methods = Vec::new();
    for trait_item in &mut item.items {
        let TraitItem::Fn(f) = trait_item else {
            errors.push(
                &*trait_item,
                "a hot interface holds only methods (calls and #[cast]s)",
            );
            continue;
        };
        let before = f.attrs.len();
        f.attrs.retain(|a| !a.path().is_ident("cast"));
        let cast = f.attrs.len() != before;
        let sig = &f.sig;
        if sig.asyncness.is_some() {
            errors.push(
                sig.asyncness,
                "hot module handlers are synchronous: remove `async` (effects go through `Host`)",
            );
        }
        if !sig.generics.params.is_empty() {
            errors.push(&sig.generics, "a hot interface method cannot be generic");
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) => {
                if r.reference.is_none() {
                    errors.push(
                        r,
                        "a hot interface method borrows its state: `&self` or `&mut self`",
                    );
                } else if cast && r.mutability.is_none() {
                    errors.push(r, "a #[cast] takes `&mut self`");
                }
            }
            _ => {
                errors.push(
                    &sig.ident,
                    "a hot interface method takes `&self` (a call) or `&mut self` (a #[cast])",
                );
                continue;
            }
        }
        let params: Vec<&syn::PatType> = inputs
            .filter_map(|a| match a {
                FnArg::Typed(pt) => Some(pt),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let mut fields = Vec::new();
        let mut takes_host = false;
        for (i, pt) in params.iter().enumerate() {
            if is_host(&pt.ty) {
                if i + 1 != params.len() {
                    errors.push(pt, "the `&mut Host<..>` parameter comes last");
                }
                takes_host = true;
                continue;
            }
            let name = match &*pt.pat {
                Pat::Ident(p) => p.ident.clone(),
                other => {
                    errors.push(other, "name this parameter: it becomes a message field");
                    continue;
                }
            };
            fields.push((name, (*pt.ty).clone()));
        }
        let reply: Type = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        if cast && !matches!(sig.output, ReturnType::Default) {
            errors.push(
                &sig.output,
                "a #[cast] returns nothing; make it a call to reply",
            );
        }
        if let Some(body) = &f.default {
            errors.push(
                body,
                "interface methods have no body here; each module version implements them",
            );
        }
        methods.push(Method {
            name: sig.ident.clone(),
            variant: camel(&sig.ident),
            cast,
            fields,
            takes_host,
            reply,
        });
    }
    if methods.iter().all(|m| m.cast) {
        errors.push(
            &item.ident,
            "a hot interface needs at least one call (a method taking `&self`)",
        );
    }
    InterfaceModel { methods }
}
