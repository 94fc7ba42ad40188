//! Code generation for `#[hot_interface]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemTrait;

use super::model::{self, InterfaceModel, Method};
use crate::model::Errors;

pub(crate) fn hot_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut item: ItemTrait = match syn::parse2(item) {
        Ok(i) => i,
        Err(_) => {
            return syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[hot_interface] goes on a trait",
            )
            .to_compile_error()
        }
    };
    let options = model::parse_options(attr, &mut errors);
    let model = model::parse_trait(&mut item, &mut errors);
    if let Some(errs) = errors.into_compile_errors() {
        return quote!(#item #errs);
    }
    let generated = expand(&item, &options, &model);
    quote!(#item #generated)
}

fn variant_def(m: &Method) -> TokenStream {
    let variant = &m.variant;
    let doc = format!("`{}`", m.name);
    if m.fields.is_empty() {
        quote!(#[doc = #doc] #variant)
    } else {
        let fields = m
            .fields
            .iter()
            .map(|(n, t)| quote!(#[allow(missing_docs)] #n: #t));
        quote!(#[doc = #doc] #variant { #(#fields),* })
    }
}

fn variant_pattern(enum_name: &syn::Ident, m: &Method) -> TokenStream {
    let variant = &m.variant;
    if m.fields.is_empty() {
        quote!(#enum_name::#variant)
    } else {
        let names = m.fields.iter().map(|(n, _)| n);
        quote!(#enum_name::#variant { #(#names),* })
    }
}

/// FNV-1a, 64 bits: a stable hash, the same on every build of the macro.
fn fnv1a(seed: u64, text: &str) -> u64 {
    text.bytes().fold(seed, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The interface's fingerprint: a chain of hashes, the first over the module's name and
/// arguments, then one more per method in declaration order, each over the previous hash and the
/// method's kind, name, fields and reply. A client whose chain is a prefix of a module's speaks
/// a subset of it (methods added at the end); anything else is another interface.
fn fingerprint(module: &str, args: &syn::Type, model: &InterfaceModel) -> Vec<u64> {
    let mut h = fnv1a(
        0xcbf2_9ce4_8422_2325,
        &format!("module {module} args {}", quote!(#args)),
    );
    let mut chain = vec![h];
    for m in &model.methods {
        let fields: Vec<String> = m
            .fields
            .iter()
            .map(|(n, t)| format!("{n}: {}", quote!(#t)))
            .collect();
        let reply = &m.reply;
        let kind = if m.cast { "cast" } else { "call" };
        let sig = format!(
            "{h:016x} {kind} {}({}) -> {}",
            m.name,
            fields.join(", "),
            quote!(#reply)
        );
        h = fnv1a(h, &sig);
        chain.push(h);
    }
    chain
}

fn expand(item: &ItemTrait, options: &model::Options, model: &InterfaceModel) -> TokenStream {
    let abi = quote!(::ferrotp_abi);
    let vis = &item.vis;
    let name = &item.ident;
    let call_enum = format_ident!("{}Call", name);
    let reply_enum = format_ident!("{}Reply", name);
    let cast_enum = format_ident!("{}Cast", name);
    let iface = format_ident!("{}Interface", name);
    let client = format_ident!("{}Client", name);
    let module = options.module.as_ref().expect("validated");
    let args = options
        .args
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(()));
    let calls: Vec<&Method> = model.methods.iter().filter(|m| !m.cast).collect();
    let casts: Vec<&Method> = model.methods.iter().filter(|m| m.cast).collect();

    let call_variants = calls.iter().map(|m| variant_def(m));
    let reply_variants = calls.iter().map(|m| {
        let v = &m.variant;
        let r = &m.reply;
        let doc = format!("The reply to `{}`.", m.name);
        quote!(#[doc = #doc] #v(#r))
    });
    let cast_variants = casts.iter().map(|m| variant_def(m));
    let fingerprint = fingerprint(&module.value(), &args, model);
    let derive = quote! {
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #abi::serde::Serialize, #abi::serde::Deserialize)]
        #[serde(crate = "::ferrotp_abi::serde")]
    };
    let host_arg = |m: &Method| {
        if m.takes_host {
            quote!(, host)
        } else {
            quote!()
        }
    };

    let call_arms = calls.iter().map(|m| {
        let pat = variant_pattern(&call_enum, m);
        let method = &m.name;
        let v = &m.variant;
        let args = m.fields.iter().map(|(n, _)| n);
        let host = host_arg(m);
        quote!(#pat => #reply_enum::#v(module.#method(#(#args),* #host)))
    });
    let cast_arms = casts.iter().map(|m| {
        let pat = variant_pattern(&cast_enum, m);
        let method = &m.name;
        let args = m.fields.iter().map(|(n, _)| n);
        let host = host_arg(m);
        quote!(#pat => module.#method(#(#args),* #host))
    });
    let no_casts = casts.is_empty().then(|| quote!(_ => {}));

    let client_calls = calls.iter().map(|m| {
        let method = &m.name;
        let v = &m.variant;
        let r = &m.reply;
        let params = m.fields.iter().map(|(n, t)| quote!(#n: #t));
        let build = variant_pattern(&call_enum, m);
        let doc = format!("Call `{}` and wait for its reply.", m.name);
        quote! {
            #[doc = #doc]
            fn #method(&self #(, #params)*) -> impl ::core::future::Future<Output = ::core::result::Result<#r, Self::Error>> + ::core::marker::Send {
                let request = #build;
                async move {
                    match self.request(request).await? {
                        #reply_enum::#v(value) => ::core::result::Result::Ok(value),
                        #[allow(unreachable_patterns)]
                        other => ::core::result::Result::Err(Self::unexpected(other)),
                    }
                }
            }
        }
    });
    let client_casts = casts.iter().map(|m| {
        let method = &m.name;
        let params = m.fields.iter().map(|(n, t)| quote!(#n: #t));
        let build = variant_pattern(&cast_enum, m);
        let doc = format!("Cast `{}` (fire and forget).", m.name);
        quote! {
            #[doc = #doc]
            fn #method(&self #(, #params)*) {
                self.send(#build)
            }
        }
    });
    let iface_doc = format!(
        "The `{module}` interface (generated from [`{name}`]): its messages, its dispatch to \
         every implementor of the trait, and the name a module library must declare.",
        module = module.value()
    );
    let client_doc = format!(
        "Typed calls and casts of [`{name}`] on any client of the interface (the loader's \
         `HotClient<{iface}>`)."
    );

    quote! {
        #[doc = concat!("Requests of [`", stringify!(#name), "`] that expect a reply.")]
        #derive
        #vis enum #call_enum { #(#call_variants),* }

        #[doc = concat!("Replies of [`", stringify!(#name), "`], one variant per call.")]
        #derive
        #vis enum #reply_enum { #(#reply_variants),* }

        #[doc = concat!("Casts of [`", stringify!(#name), "`].")]
        #derive
        #vis enum #cast_enum { #(#cast_variants),* }

        #[doc = #iface_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        #vis struct #iface;

        #[automatically_derived]
        impl #abi::Interface for #iface {
            const MODULE: &'static str = #module;
            const FINGERPRINT: &'static [u64] = &[#(#fingerprint),*];
            type Args = #args;
            type Call = #call_enum;
            type Reply = #reply_enum;
            type Cast = #cast_enum;
        }

        #[automatically_derived]
        impl<M: #name> #abi::Dispatch<M> for #iface {
            fn call(module: &mut M, request: #call_enum, host: &mut #abi::Host<'_, Self>) -> #reply_enum {
                let _ = &host;
                match request {
                    #(#call_arms,)*
                }
            }

            fn cast(module: &mut M, message: #cast_enum, host: &mut #abi::Host<'_, Self>) {
                let _ = (&host, &module);
                #[allow(unreachable_code)]
                match message {
                    #(#cast_arms,)*
                    #no_casts
                }
            }
        }

        #[doc = #client_doc]
        #vis trait #client: #abi::Client<#iface> + ::core::marker::Sync {
            #(#client_calls)*
            #(#client_casts)*
        }

        #[automatically_derived]
        impl<C: #abi::Client<#iface> + ::core::marker::Sync> #client for C {}
    }
}
