//! Code generation for `#[gen_server]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemImpl;

use crate::model::{self, camel, Errors, Handler, Kind, Param, Server};

/// Names the generated client and inherent functions use; a handler may not take them.
const RESERVED: &[&str] = &[
    "start",
    "start_link",
    "start_with",
    "child_spec",
    "child_spec_once",
    "new",
    "named",
    "server",
    "pid",
    "stop",
];

pub(crate) fn gen_server(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = model::parse_options(attr, &mut errors);
    let is_impl = item
        .clone()
        .into_iter()
        .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "impl"));
    let mut item: ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        // An impl block with a syntax error: report that error as it is.
        Err(e) if is_impl => return e.to_compile_error(),
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "#[gen_server] goes on an `impl` block: `#[gen_server] impl MyServer { ... }`",
            )
            .to_compile_error()
        }
    };
    let server = model::parse_server(&mut item, &mut errors);
    if let Some(server) = &server {
        for h in &server.handlers {
            if RESERVED.contains(&h.name.to_string().as_str()) {
                errors.push(
                    &h.name,
                    format!(
                        "`{}` is a name the generated client uses: rename the handler",
                        h.name
                    ),
                );
            }
        }
    }
    // On any error, still emit the (cleaned) impl block: the rest of the program keeps
    // type-checking and only the real mistakes are reported.
    if let Some(compile_errors) = errors.into_compile_errors() {
        return quote! { #item #compile_errors };
    }
    let server = server.expect("no errors means the model was built");
    let generated = expand(&server, &options);
    quote! { #item #generated }
}

fn expand(server: &Server, options: &model::Options) -> TokenStream {
    let krate = &options.krate;
    let vis = options
        .vis
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(pub));
    let self_ty = &server.self_ty;
    let ident = &server.ident;
    // Type parameters travel with messages between processes: they must be `Send + 'static`.
    let mut generics = server.generics.clone();
    let type_params: Vec<syn::Ident> = generics.type_params().map(|t| t.ident.clone()).collect();
    for t in &type_params {
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote!(#t: ::core::marker::Send + 'static));
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    // An uninhabited variant that mentions every type parameter, so that message enums of a
    // generic server are well-formed even when no message carries a `T`.
    let marker = (!type_params.is_empty()).then(|| {
        quote! {
            #[doc(hidden)]
            __Marker(::core::marker::PhantomData<fn() -> (#(#type_params,)*)>, ::core::convert::Infallible),
        }
    });
    let marker_arm = |e: &syn::Ident| {
        (!type_params.is_empty()).then(|| quote!(#e::__Marker(_, never) => match never {},))
    };
    let call_enum = format_ident!("{}Call", ident);
    let cast_enum = format_ident!("{}Cast", ident);
    let client = format_ident!("{}Client", ident);
    let gs = quote!(#krate::gen_server);

    let vsn = options
        .vsn
        .as_ref()
        .map(|v| quote!(const VSN: &'static str = #v;));
    // The state's own `Debug`, pretty-printed; a state that is not `Debug` fails to compile
    // here, which is the point of the opt-in.
    let format_status = options.debug_state.then(|| {
        quote! {
            fn format_status(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(::std::format!("{:#?}", self))
            }
        }
    });
    let mut default_options = quote!(#gs::StartOptions::new());
    if let Some(n) = &options.mailbox_capacity {
        default_options = quote!(#default_options.mailbox_capacity(#n));
    }
    if let Some(name) = &options.name {
        default_options = quote!(#default_options.name(#name));
    }
    let mut spec_options = quote!(spec);
    if let Some(n) = &options.mailbox_capacity {
        spec_options = quote!(#spec_options.mailbox_capacity(#n));
    }
    if let Some(name) = &options.name {
        spec_options = quote!(#spec_options.name(#name));
    }
    let named_client = options.name.as_ref().map(|name| {
        quote! {
            /// A client of the server registered under the name given in `#[gen_server(name = ..)]`,
            /// resolved at every request so it follows restarts.
            pub fn registered() -> Self {
                #client { server: #gs::Server::named(#name) }
            }
        }
    });
    let call_timeout = match &options.call_timeout_ms {
        Some(ms) => quote!(::core::time::Duration::from_millis(#ms)),
        None => quote!(#gs::DEFAULT_CALL_TIMEOUT),
    };
    let init = server.init.as_ref().expect("validated");
    let init_names: Vec<_> = init.args.iter().map(|(n, _)| n).collect();
    let init_types: Vec<_> = init.args.iter().map(|(_, t)| t).collect();
    let args_ty = match init_types.as_slice() {
        [one] => quote!(#one),
        many => quote!((#(#many,)*)),
    };
    let args_pack = match init_names.as_slice() {
        [one] => quote!(#one),
        many => quote!((#(#many,)*)),
    };
    let init_await = init.is_async.then(|| quote!(.await));
    let init_ctx = init.takes_ctx.then(|| quote!(_ctx));
    let ctx_arg = |h: &Handler| h.takes_ctx.then(|| quote!(_ctx));
    let infos: Vec<&Handler> = server
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Info)
        .collect();
    let info_ty = match infos.first() {
        Some(h) => {
            let t = &h.args[0].1;
            quote!(#t)
        }
        None => quote!(()),
    };
    let notice = |kind: Kind| server.handlers.iter().find(|h| h.kind == kind);
    let info_arm = |kind: Kind, pattern: TokenStream, value: Option<TokenStream>| {
        notice(kind).map(|h| {
            let name = &h.name;
            let awaited = h.is_async.then(|| quote!(.await));
            let ctx = ctx_arg(h);
            quote! {
                #pattern => {
                    self.#name(#value #ctx) #awaited;
                    #gs::HandleResult::noreply()
                }
            }
        })
    };
    let arms = [
        info_arm(
            Kind::Info,
            quote!(#gs::Info::Message(message)),
            Some(quote!(message,)),
        ),
        info_arm(
            Kind::Down,
            quote!(#gs::Info::Down(down)),
            Some(quote!(down,)),
        ),
        info_arm(
            Kind::Exit,
            quote!(#gs::Info::Exit(exit)),
            Some(quote!(exit,)),
        ),
        info_arm(Kind::Timeout, quote!(#gs::Info::Timeout), None),
    ];
    let handle_info = arms.iter().any(Option::is_some).then(|| {
        let arms = arms.iter().flatten();
        quote! {
            #[allow(unreachable_patterns)]
            async fn handle_info(
                &mut self,
                info: #gs::Info<#info_ty>,
                _ctx: &mut #gs::ServerContext<Self>,
            ) -> #gs::HandleResult<Self> {
                match info {
                    #(#arms)*
                    other => {
                        #gs::unhandled_info(::core::any::type_name::<Self>(), _ctx.pid(), &other);
                        #gs::HandleResult::noreply()
                    }
                }
            }
        }
    });
    let continues: Vec<&Handler> = server
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Continue)
        .collect();
    let continue_ty = match continues.first() {
        Some(h) => {
            let t = &h.args[0].1;
            quote!(#t)
        }
        None => quote!(()),
    };
    let handle_continue = continues.first().map(|h| {
        let name = &h.name;
        let awaited = h.is_async.then(|| quote!(.await));
        let ctx = ctx_arg(h);
        quote! {
            async fn handle_continue(
                &mut self,
                continuation: #continue_ty,
                _ctx: &mut #gs::ServerContext<Self>,
            ) -> #gs::HandleResult<Self> {
                self.#name(continuation, #ctx) #awaited;
                #gs::HandleResult::noreply()
            }
        }
    });
    let terminate = server.terminate.as_ref().map(|t| {
        let awaited = t.is_async.then(|| quote!(.await));
        let ctx = t.takes_ctx.then(|| quote!(_ctx));
        quote! {
            async fn terminate(&mut self, reason: &#krate::ExitReason, _ctx: &mut #gs::ServerContext<Self>) {
                <#self_ty>::terminate(self, reason, #ctx) #awaited
            }
        }
    });
    let code_change = server.code_change.then(|| {
        quote! {
            fn code_change(
                &self,
                old_vsn: &#krate::sys::OldVsn,
                extra: &str,
            ) -> ::core::result::Result<::core::option::Option<Self>, #krate::ExitReason> {
                <#self_ty>::code_change(self, old_vsn, extra)
            }
        }
    });

    let calls: Vec<&Handler> = server
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Call)
        .collect();
    let casts: Vec<&Handler> = server
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Cast)
        .collect();

    let variant = |h: &Handler| camel(&h.name);
    let arg_types = |h: &Handler| h.args.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();
    let arg_names = |h: &Handler| h.args.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();

    let call_variants = calls.iter().map(|h| {
        let v = variant(h);
        let tys = arg_types(h);
        let r = &h.reply;
        let doc = format!(
            "Arguments of [`{ident}::{}`], and where its reply goes.",
            h.name
        );
        quote!(#[doc = #doc] #v(#(#tys,)* #gs::ReplyTo<#r>))
    });
    let cast_variants = casts.iter().map(|h| {
        let v = variant(h);
        let tys = arg_types(h);
        let doc = format!("Arguments of [`{ident}::{}`].", h.name);
        quote!(#[doc = #doc] #v(#(#tys,)*))
    });

    let call_arms = calls.iter().map(|h| {
        let v = variant(h);
        let name = &h.name;
        let names = arg_names(h);
        let awaited = h.is_async.then(|| quote!(.await));
        let passed = h.params.iter().map(|p| match p {
            Param::Message(n) => quote!(#n),
            Param::ReplyTo => quote!(__reply),
            Param::Context => quote!(_ctx),
        });
        if h.replies_later {
            quote_spanned! {h.name.span()=>
                #call_enum::#v(#(#names,)* __reply) => {
                    self.#name(#(#passed),*) #awaited;
                    #gs::CallResult::noreply()
                }
            }
        } else {
            // Through the context: a handler that asked to stop gets `terminate` run before
            // its reply is sent, as OTP's `{stop, Reason, Reply, State}`. A separate binding,
            // because the handler may borrow the context too (and its reply may be `()`).
            quote_spanned! {h.name.span()=>
                #call_enum::#v(#(#names,)* __reply) => {
                    #[allow(clippy::let_unit_value)]
                    let value = self.#name(#(#passed),*) #awaited;
                    _ctx.reply(__reply, value)
                }
            }
        }
    });
    let cast_arms = casts.iter().map(|h| {
        let ctx = ctx_arg(h);
        let v = variant(h);
        let name = &h.name;
        let names = arg_names(h);
        let awaited = h.is_async.then(|| quote!(.await));
        quote_spanned! {h.name.span()=>
            #cast_enum::#v(#(#names,)*) => {
                self.#name(#(#names,)* #ctx) #awaited;
                #gs::HandleResult::noreply()
            }
        }
    });

    let client_calls = calls.iter().map(|h| {
        let v = variant(h);
        let name = &h.name;
        let with_timeout = format_ident!("{}_timeout", h.name);
        let names = arg_names(h);
        let tys = arg_types(h);
        let r = &h.reply;
        let doc = format!(
            "Call [`{ident}::{name}`] and wait for its reply up to the default call timeout (5 s unless `call_timeout_ms` is set).\n\n# Errors\n\nSee [`CallError`]({}::gen_server::CallError).",
            quote!(#krate).to_string().replace(' ', "")
        );
        let doc_t = format!("Call [`{ident}::{name}`] and wait up to `timeout` for its reply.");
        quote! {
            #[doc = #doc]
            pub async fn #name(&self, #(#names: #tys),*) -> ::core::result::Result<#r, #gs::CallError> {
                self.#with_timeout(#(#names,)* #call_timeout).await
            }

            #[doc = #doc_t]
            ///
            /// # Errors
            ///
            /// As the call without a timeout.
            pub async fn #with_timeout(
                &self,
                #(#names: #tys,)*
                timeout: ::core::time::Duration,
            ) -> ::core::result::Result<#r, #gs::CallError> {
                self.server
                    .call_timeout(|__reply| #call_enum::#v(#(#names,)* __reply), timeout)
                    .await
            }
        }
    });
    let client_casts = casts.iter().map(|h| {
        let v = variant(h);
        let name = &h.name;
        let names = arg_names(h);
        let tys = arg_types(h);
        let doc = format!(
            "Cast to [`{ident}::{name}`]: fire and forget, as OTP's cast (it succeeds even if the server is gone)."
        );
        quote! {
            #[doc = #doc]
            pub fn #name(&self, #(#names: #tys),*) {
                self.server.cast(#cast_enum::#v(#(#names,)*))
            }
        }
    });

    // Everything that travels between processes must be `Send + 'static`; checking each type
    // where it is written puts the error on the argument, not on the generated impl.
    let sendable = server
        .handlers
        .iter()
        .flat_map(|h| {
            let reply = (h.kind == Kind::Call).then_some(&h.reply);
            h.args.iter().map(|(_, t)| t).chain(reply)
        })
        .chain(init_types.iter().copied())
        .map(|ty| {
            quote_spanned! {syn::spanned::Spanned::span(ty)=>
                __ferrotp_assert_sendable::<#ty>();
            }
        });
    let call_marker = marker_arm(&call_enum);
    let cast_marker = marker_arm(&cast_enum);
    let send_checks = quote! {
        const _: () = {
            fn __ferrotp_assert_sendable<__T: ::core::marker::Send + 'static>() {}
            #[allow(dead_code, clippy::multiple_bound_locations)]
            fn __ferrotp_check #impl_g () #where_c {
                #(#sendable)*
            }
        };
    };

    let remote = options.remote.then(|| {
        remote(
            server,
            options,
            &calls,
            &casts,
            &call_enum,
            &cast_enum,
            &call_timeout,
        )
    });

    let call_doc =
        format!("Requests of [`{ident}`] that expect a reply (generated by `#[gen_server]`).");
    let cast_doc =
        format!("Requests of [`{ident}`] that expect no reply (generated by `#[gen_server]`).");
    let client_doc = format!(
        "A typed client of [`{ident}`]: one method per `#[call]` and `#[cast]` (generated by `#[gen_server]`)."
    );

    quote! {
        #send_checks
        #remote

        #[doc = #call_doc]
        #[allow(private_interfaces, dead_code, clippy::multiple_bound_locations)]
        #vis enum #call_enum #impl_g #where_c { #(#call_variants,)* #marker }

        #[doc = #cast_doc]
        #[allow(private_interfaces, dead_code, clippy::multiple_bound_locations)]
        #vis enum #cast_enum #impl_g #where_c { #(#cast_variants,)* #marker }

        #[automatically_derived]
        #[allow(clippy::multiple_bound_locations)]
        impl #impl_g #gs::GenServer for #self_ty #where_c {
            type Args = #args_ty;
            type Call = #call_enum #ty_g;
            type Cast = #cast_enum #ty_g;
            type Info = #info_ty;
            type Continue = #continue_ty;
            #vsn
            #format_status

            async fn init(args: #args_ty, _ctx: &mut #gs::ServerContext<Self>) -> #gs::Init<Self> {
                let #args_pack = args;
                ::core::convert::Into::<#gs::Init<Self>>::into(<#self_ty>::init(#(#init_names,)* #init_ctx) #init_await)
            }

            #handle_info
            #handle_continue
            #terminate
            #code_change

            #[allow(unreachable_code)]
            async fn handle_call(
                &mut self,
                request: #call_enum #ty_g,
                _ctx: &mut #gs::ServerContext<Self>,
            ) -> #gs::CallResult<Self> {
                match request { #(#call_arms)* #call_marker }
            }

            #[allow(unreachable_code)]
            async fn handle_cast(
                &mut self,
                request: #cast_enum #ty_g,
                _ctx: &mut #gs::ServerContext<Self>,
            ) -> #gs::HandleResult<Self> {
                match request { #(#cast_arms)* #cast_marker }
            }
        }

        #[doc = #client_doc]
        #[allow(private_interfaces, clippy::multiple_bound_locations)]
        #vis struct #client #impl_g #where_c {
            server: #gs::Server<#self_ty>,
        }

        #[automatically_derived]
        #[allow(clippy::multiple_bound_locations)]
        impl #impl_g ::core::clone::Clone for #client #ty_g #where_c {
            fn clone(&self) -> Self {
                #client { server: ::core::clone::Clone::clone(&self.server) }
            }
        }

        #[automatically_derived]
        #[allow(clippy::multiple_bound_locations)]
        impl #impl_g ::core::fmt::Debug for #client #ty_g #where_c {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.server, f)
            }
        }

        #[automatically_derived]
        #[allow(private_interfaces, dead_code, clippy::multiple_bound_locations)]
        impl #impl_g #client #ty_g #where_c {
            /// A client of a running server.
            pub fn new(server: #gs::Server<#self_ty>) -> Self {
                #client { server }
            }

            /// A client that resolves `name` (local or via) at every request, so it follows
            /// restarts.
            pub fn named(name: impl ::core::convert::Into<#krate::registry::Name>) -> Self {
                #client { server: #gs::Server::named(name) }
            }

            #named_client

            /// The underlying server handle (for `sys`, supervisors, `send`).
            pub fn server(&self) -> &#gs::Server<#self_ty> {
                &self.server
            }

            /// The pid of the server this client reaches now.
            pub fn pid(&self) -> ::core::option::Option<#krate::Pid> {
                self.server.pid()
            }

            /// Stop the server with `reason` and wait for it to exit.
            ///
            /// # Errors
            ///
            /// As `Server::stop`.
            pub async fn stop(&self, reason: #krate::ExitReason) -> ::core::result::Result<(), #gs::StopError> {
                self.server.stop(reason, ::core::option::Option::None).await
            }

            #(#client_calls)*
            #(#client_casts)*
        }

        #[automatically_derived]
        #[allow(private_interfaces, dead_code, clippy::multiple_bound_locations)]
        impl #impl_g #self_ty #where_c {
            /// Start the server, not linked; returns once `init` has finished.
            ///
            /// # Errors
            ///
            /// See `StartError`.
            pub async fn start(#(#init_names: #init_types),*) -> ::core::result::Result<#client #ty_g, #gs::StartError> {
                Self::start_with(#(#init_names,)* #default_options).await
            }

            /// Start the server linked to the calling process.
            ///
            /// # Errors
            ///
            /// See `StartError`.
            pub async fn start_link(#(#init_names: #init_types),*) -> ::core::result::Result<#client #ty_g, #gs::StartError> {
                Self::start_with(#(#init_names,)* #default_options.link()).await
            }

            /// Start the server with options (a name, a link, a start timeout).
            ///
            /// # Errors
            ///
            /// See `StartError`.
            pub async fn start_with(
                #(#init_names: #init_types,)*
                options: #gs::StartOptions,
            ) -> ::core::result::Result<#client #ty_g, #gs::StartError> {
                #gs::start_with::<Self>(#args_pack, options).await.map(#client::new)
            }

            /// A child spec: starts this server under a supervisor with a clone of the arguments at
            /// each (re)start, under the `name` given in the attribute if any. Its id is the
            /// type's name; adjust it, the name, restart and shutdown with the spec's builder.
            pub fn child_spec(#(#init_names: #init_types),*) -> #krate::supervisor::ChildSpec
            where
                // Higher-ranked, so that a server whose arguments are not `Clone` still compiles
                // (and only this function is unavailable).
                for<'__ferrotp> #args_ty: ::core::clone::Clone,
            {
                let spec = <Self as #krate::supervisor::Child>::child_spec(#args_pack);
                #spec_options
            }

            /// A temporary child spec that starts this server once, with the arguments
            /// themselves: for arguments that are not `Clone`, such as a socket.
            pub fn child_spec_once(#(#init_names: #init_types),*) -> #krate::supervisor::ChildSpec {
                let spec = <Self as #krate::supervisor::Child>::child_spec_once(#args_pack);
                #spec_options
            }
        }
    }
}

/// `#[gen_server(remote)]`: the server answers other nodes (`RemoteServer`: a handler without
/// arguments is called as its name's atom, one with arguments as `{name, Args...}`, each
/// argument and reply through the `serde` term mapping), and `<Type>Remote` calls a server of
/// this type on another node with the same methods as the local client.
fn remote(
    server: &Server,
    options: &model::Options,
    calls: &[&Handler],
    casts: &[&Handler],
    call_enum: &syn::Ident,
    cast_enum: &syn::Ident,
    call_timeout: &TokenStream,
) -> TokenStream {
    let krate = &options.krate;
    let dist = quote!(#krate::dist);
    let ident = &server.ident;
    let self_ty = &server.self_ty;
    if !server.generics.params.is_empty() {
        return syn::Error::new(
            ident.span(),
            "`remote` servers cannot be generic: their requests are decoded from terms by name",
        )
        .to_compile_error();
    }
    let vis = options
        .vis
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(pub));
    let remote_client = format_ident!("{}Remote", ident);
    let decode_arm = |h: &Handler, enum_: &syn::Ident, reply: bool| {
        let v = camel(&h.name);
        let name = h.name.to_string();
        let n = h.args.len();
        let vars: Vec<syn::Ident> = (0..n).map(|i| format_ident!("__a{}", i)).collect();
        // Spanned at each argument's type: one that is not `serde` is reported there.
        let decoded = h.args.iter().zip(&vars).map(|((_, ty), var)| {
            quote_spanned! {syn::spanned::Spanned::span(ty)=>
                #dist::from_term::<#ty>(#var)?
            }
        });
        let reply = reply.then(|| {
            let r = &h.reply;
            quote_spanned! {syn::spanned::Spanned::span(r)=> __caller.reply_to::<#r>(),}
        });
        quote! {
            #name => {
                let [#(#vars),*] = #dist::request::args::<#n>(#name, __args)?;
                ::core::result::Result::Ok(#enum_::#v(#(#decoded,)* #reply))
            }
        }
    };
    let call_arms = calls.iter().map(|h| decode_arm(h, call_enum, true));
    let cast_arms = casts.iter().map(|h| decode_arm(h, cast_enum, false));
    let encode = |h: &Handler| {
        let name = h.name.to_string();
        let encoded = h.args.iter().map(|(n, ty)| {
            quote_spanned! {syn::spanned::Spanned::span(ty)=>
                #dist::to_term::<#ty>(&#n).map_err(#dist::DistError::from)?
            }
        });
        quote! {
            #dist::request::build(#name, ::std::vec![#(#encoded,)*])
        }
    };
    let client_calls = calls.iter().map(|h| {
        let name = &h.name;
        let with_timeout = format_ident!("{}_timeout", h.name);
        let names: Vec<_> = h.args.iter().map(|(n, _)| n).collect();
        let tys: Vec<_> = h.args.iter().map(|(_, t)| t).collect();
        let r = &h.reply;
        let request = encode(h);
        let doc = format!("Call [`{ident}::{name}`] on the remote server, waiting up to the default call timeout.");
        let doc_t = format!("Call [`{ident}::{name}`] on the remote server, waiting up to `timeout`.");
        quote! {
            #[doc = #doc]
            ///
            /// # Errors
            ///
            /// See `RemoteCallError`.
            pub async fn #name(&self, #(#names: #tys),*) -> ::core::result::Result<#r, #dist::RemoteCallError> {
                self.#with_timeout(#(#names,)* #call_timeout).await
            }

            #[doc = #doc_t]
            ///
            /// # Errors
            ///
            /// See `RemoteCallError`.
            pub async fn #with_timeout(
                &self,
                #(#names: #tys,)*
                timeout: ::core::time::Duration,
            ) -> ::core::result::Result<#r, #dist::RemoteCallError> {
                let request = #request;
                self.node.call(self.dest.clone(), &request, timeout).await
            }
        }
    });
    let client_casts = casts.iter().map(|h| {
        let name = &h.name;
        let names: Vec<_> = h.args.iter().map(|(n, _)| n).collect();
        let tys: Vec<_> = h.args.iter().map(|(_, t)| t).collect();
        let request = encode(h);
        let doc = format!("Cast to [`{ident}::{name}`] on the remote server.");
        quote! {
            #[doc = #doc]
            ///
            /// # Errors
            ///
            /// If the node cannot be reached or its queue is full; as in OTP, not whether the
            /// server got it.
            pub async fn #name(&self, #(#names: #tys),*) -> ::core::result::Result<(), #dist::DistError> {
                let request = #request;
                self.node.cast(self.dest.clone(), &request).await
            }
        }
    });
    let registered = options.name.as_ref().map(|name| {
        quote! {
            /// The server registered under the attribute's name on node `at`.
            pub fn registered(node: &#dist::Node, at: &str) -> Self {
                Self::new(node, (#name, at))
            }
        }
    });
    let client_doc = format!(
        "A typed client of a [`{ident}`] on another node, with the local client's methods (generated by `#[gen_server(remote)]`)."
    );
    quote! {
        #[automatically_derived]
        impl #dist::RemoteServer for #self_ty {
            fn remote_call(
                request: #dist::Term,
                __caller: #dist::RemoteCaller,
            ) -> ::core::result::Result<<Self as #krate::gen_server::GenServer>::Call, #dist::SerdeError> {
                let (__name, __args) = #dist::request::split(request)?;
                match __name.as_str() {
                    #(#call_arms)*
                    other => ::core::result::Result::Err(#dist::request::unknown(other)),
                }
            }

            fn remote_cast(
                request: #dist::Term,
            ) -> ::core::result::Result<<Self as #krate::gen_server::GenServer>::Cast, #dist::SerdeError> {
                let (__name, __args) = #dist::request::split(request)?;
                match __name.as_str() {
                    #(#cast_arms)*
                    other => ::core::result::Result::Err(#dist::request::unknown(other)),
                }
            }
        }

        #[doc = #client_doc]
        #[derive(Clone, Debug)]
        #vis struct #remote_client {
            node: #dist::Node,
            dest: #dist::Dest,
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #remote_client {
            /// A client of the server at `dest` (a remote pid, or `(name, node)`).
            pub fn new(node: &#dist::Node, dest: impl ::core::convert::Into<#dist::Dest>) -> Self {
                #remote_client { node: ::core::clone::Clone::clone(node), dest: dest.into() }
            }

            #registered

            #(#client_calls)*
            #(#client_casts)*
        }
    }
}
