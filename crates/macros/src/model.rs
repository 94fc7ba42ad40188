//! The model of a `#[gen_server]` impl block: parsed, spanned, validated.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, Pat, ReturnType, Type};

/// Errors gathered while reading the input; all are reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Record an error covering all of `tokens` (first to last token, on stable too).
    pub(crate) fn push(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn add(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn into_compile_errors(self) -> Option<TokenStream> {
        self.0.map(|e| e.to_compile_error())
    }
}

/// What kind of handler a method is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Call,
    Cast,
    Info,
    Continue,
    /// A monitored process went down (`Info::Down`).
    Down,
    /// An exit signal while trapping exits (`Info::Exit`).
    Exit,
    /// The idle timeout expired (`Info::Timeout`).
    Timeout,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Call => "#[call]",
            Kind::Cast => "#[cast]",
            Kind::Info => "#[info]",
            Kind::Continue => "#[on_continue]",
            Kind::Down => "#[down]",
            Kind::Exit => "#[exit]",
            Kind::Timeout => "#[timeout]",
        }
    }
}

/// One handler method.
pub(crate) struct Handler {
    pub(crate) kind: Kind,
    pub(crate) name: syn::Ident,
    pub(crate) is_async: bool,
    pub(crate) args: Vec<(syn::Ident, Type)>,
    /// The reply type of a call (`()` when the method returns nothing).
    pub(crate) reply: Type,
    /// The method takes `&mut ServerContext<Self>` as its last parameter.
    pub(crate) takes_ctx: bool,
    /// The parameters in declared order, for the generated call.
    pub(crate) params: Vec<Param>,
    /// A call handler that answers later through a `ReplyTo<T>` parameter.
    pub(crate) replies_later: bool,
}

/// A handler parameter, as the generated dispatch passes it.
#[derive(Clone)]
pub(crate) enum Param {
    Message(syn::Ident),
    ReplyTo,
    Context,
}

/// The `init` function.
pub(crate) struct InitFn {
    pub(crate) is_async: bool,
    pub(crate) args: Vec<(syn::Ident, Type)>,
    pub(crate) takes_ctx: bool,
}

/// `terminate` or `code_change`, recognised by name and forwarded.
pub(crate) struct Lifecycle {
    pub(crate) is_async: bool,
    pub(crate) takes_ctx: bool,
}

/// Options of the attribute itself: `#[gen_server(crate = path, vsn = "2", ...)]`.
pub(crate) struct Options {
    pub(crate) krate: syn::Path,
    pub(crate) vsn: Option<syn::LitStr>,
    pub(crate) name: Option<syn::LitStr>,
    /// Visibility of the generated messages and client (`pub` unless given).
    pub(crate) vis: Option<syn::Visibility>,
    pub(crate) mailbox_capacity: Option<syn::LitInt>,
    pub(crate) call_timeout_ms: Option<syn::LitInt>,
    /// Reachable from other nodes: `RemoteServer` and a `<Type>Remote` client.
    pub(crate) remote: bool,
    /// Show the state's `Debug` in observers (`GenServer::format_status`).
    pub(crate) debug_state: bool,
}

const OPTIONS: &str = "`name = \"registered_name\"`, `vsn = \"1\"`, `mailbox_capacity = N`, `call_timeout_ms = N`, `vis = pub(crate)`, `remote`, `debug_state`, `crate = path::to::ferrotp`";

pub(crate) struct Server {
    pub(crate) generics: syn::Generics,
    pub(crate) self_ty: Type,
    pub(crate) ident: syn::Ident,
    pub(crate) init: Option<InitFn>,
    pub(crate) handlers: Vec<Handler>,
    pub(crate) terminate: Option<Lifecycle>,
    pub(crate) code_change: bool,
}

pub(crate) fn parse_options(attr: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options {
        krate: syn::parse_quote!(::ferrotp),
        vsn: None,
        name: None,
        vis: None,
        mailbox_capacity: None,
        call_timeout_ms: None,
        remote: false,
        debug_state: false,
    };
    if attr.is_empty() {
        return options;
    }
    // Problems are collected, not returned, so every mistaken option is reported at once.
    let found = std::cell::RefCell::new(Vec::new());
    let parser = syn::meta::parser(|meta| {
        let twice = |present: bool| {
            if present {
                found
                    .borrow_mut()
                    .push(meta.error(format!("`{}` is set twice", meta.path.to_token_stream())));
            }
        };
        if meta.path.is_ident("crate") {
            options.krate = meta.value()?.parse()?;
        } else if meta.path.is_ident("vsn") {
            twice(options.vsn.is_some());
            options.vsn = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("vis") {
            twice(options.vis.is_some());
            options.vis = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("name") {
            twice(options.name.is_some());
            options.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("mailbox_capacity") {
            twice(options.mailbox_capacity.is_some());
            let n: syn::LitInt = meta.value()?.parse()?;
            if n.base10_parse::<usize>().map_or(true, |n| n == 0) {
                found.borrow_mut().push(syn::Error::new(
                    n.span(),
                    "the mailbox capacity must be a whole number of at least 1",
                ));
            }
            options.mailbox_capacity = Some(n);
        } else if meta.path.is_ident("debug_state") {
            twice(options.debug_state);
            options.debug_state = true;
        } else if meta.path.is_ident("remote") {
            twice(options.remote);
            options.remote = true;
        } else if meta.path.is_ident("call_timeout_ms") {
            twice(options.call_timeout_ms.is_some());
            let n: syn::LitInt = meta.value()?.parse()?;
            if let Err(e) = n.base10_parse::<u64>() {
                found.borrow_mut().push(e);
            }
            options.call_timeout_ms = Some(n);
        } else {
            found.borrow_mut().push(meta.error(format!(
                "unknown option `{}`: the options are {OPTIONS}",
                meta.path.to_token_stream()
            )));
            // Skip its value, if any, to read the options after it.
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
        errors.add(e);
    }
    for e in found.into_inner() {
        errors.add(e);
    }
    options
}

/// Read the impl block; removes the `#[call]`/`#[cast]` markers from it.
pub(crate) fn parse_server(item: &mut ItemImpl, errors: &mut Errors) -> Option<Server> {
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(
            path,
            "#[gen_server] goes on the type's own `impl` block, not on a trait impl",
        );
        return None;
    }
    for param in &item.generics.params {
        match param {
            syn::GenericParam::Type(_) => {}
            syn::GenericParam::Lifetime(l) => errors.push(
                l,
                "a server outlives any borrow: it cannot have lifetime parameters",
            ),
            syn::GenericParam::Const(c) => errors.push(
                c,
                "const parameters are not supported by #[gen_server]: implement `GenServer` by hand",
            ),
        }
    }
    let ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    let Some(ident) = ident else {
        errors.push(
            &item.self_ty,
            "#[gen_server] needs a named type, like `impl Counter`",
        );
        return None;
    };
    let mut init = None;
    let mut handlers: Vec<Handler> = Vec::new();
    let mut terminate = None;
    let mut code_change = false;
    for impl_item in &mut item.items {
        let ImplItem::Fn(f) = impl_item else { continue };
        let kind = take_kind(f, errors);
        if f.sig.ident == "init" {
            if let Some(k) = kind {
                let _ = k;
                errors.push(
                    &f.sig.ident,
                    "`init` is not a handler: remove #[call]/#[cast]",
                );
            }
            init = Some(parse_init(f, errors));
        } else if kind.is_none() && f.sig.ident == "terminate" {
            let (_, _, takes_ctx) = typed_args(f, errors, true);
            terminate = Some(Lifecycle {
                is_async: f.sig.asyncness.is_some(),
                takes_ctx,
            });
        } else if kind.is_none() && f.sig.ident == "code_change" {
            if f.sig.asyncness.is_some() {
                errors.push(
                    &f.sig.ident,
                    "`code_change` is a synchronous state migration: remove `async`",
                );
            }
            code_change = true;
        } else if let Some(kind) = kind {
            let once = match kind {
                Kind::Info => Some("it takes every plain message of one type"),
                Kind::Continue => Some("it takes every continuation of one type"),
                Kind::Down => Some("it takes every `Down` of the server's monitors"),
                Kind::Exit => Some("it takes every trapped exit signal"),
                Kind::Timeout => Some("there is one idle timeout"),
                Kind::Call | Kind::Cast => None,
            };
            if let Some(why) = once {
                if handlers.iter().any(|h| h.kind == kind) {
                    errors.push(
                        &f.sig.ident,
                        format!("only one {} handler: {why}", kind.attribute()),
                    );
                }
            }
            if let Some(h) = parse_handler(f, kind, errors) {
                handlers.push(h);
            }
        } else if let Some(generated) = [
            "handle_call",
            "handle_cast",
            "handle_info",
            "handle_continue",
        ]
        .iter()
        .find(|n| f.sig.ident == **n)
        {
            errors.push(
                &f.sig.ident,
                format!(
                    "`{generated}` is generated by #[gen_server]: mark each handler with its attribute instead \
                     (#[call], #[cast], #[info] for your own messages, #[down], #[exit], #[timeout] for the runtime's, #[on_continue])"
                ),
            );
        }
    }
    if init.is_none() {
        errors.push(
            &item.self_ty,
            "a #[gen_server] impl needs `init`: add `async fn init(args) -> Result<Self, ExitReason>`",
        );
    }
    Some(Server {
        generics: item.generics.clone(),
        self_ty: (*item.self_ty).clone(),
        ident,
        init,
        handlers,
        terminate,
        code_change,
    })
}

/// Remove our marker attributes from a method and say which it was.
fn take_kind(f: &mut ImplItemFn, errors: &mut Errors) -> Option<Kind> {
    let mut kind = None;
    let mut keep = Vec::new();
    for attr in f.attrs.drain(..) {
        let this = [
            ("call", Kind::Call),
            ("cast", Kind::Cast),
            ("info", Kind::Info),
            ("on_continue", Kind::Continue),
            ("down", Kind::Down),
            ("exit", Kind::Exit),
            ("timeout", Kind::Timeout),
        ]
        .into_iter()
        .find(|(name, _)| attr.path().is_ident(name))
        .map(|(_, k)| k);
        match this {
            Some(k) => {
                if !matches!(attr.meta, syn::Meta::Path(_)) {
                    errors.push(&attr, "handler attributes take no arguments");
                }
                if kind.is_some() {
                    errors.push(&attr, "a method is one kind of handler, not several");
                }
                kind = Some(k);
            }
            None => keep.push(attr),
        }
    }
    f.attrs = keep;
    kind
}

/// The parameter's name, or `argN` for a pattern.
fn arg_name(pt: &syn::PatType, i: usize) -> syn::Ident {
    match &*pt.pat {
        Pat::Ident(p) => p.ident.clone(),
        _ => syn::Ident::new(&format!("arg{i}"), pt.pat.span()),
    }
}

/// `T` if `ty` is `ReplyTo<T>`.
fn reply_to_of(ty: &Type) -> Option<Type> {
    generic_of(ty, "ReplyTo")
}

/// `T` if `ty` is `name<T>` (any path ending in `name`).
fn generic_of(ty: &Type, name: &str) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The parameters of a handler in order, and the `ReplyTo<T>` reply type if there is one.
fn params_of(f: &ImplItemFn, errors: &mut Errors) -> (Vec<Param>, Option<Type>) {
    let mut params = Vec::new();
    let mut replies_later = None;
    for (i, input) in f.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        if is_context(&pt.ty) {
            params.push(Param::Context);
        } else if let Some(t) = reply_to_of(&pt.ty) {
            if replies_later.is_some() {
                errors.push(
                    &pt.ty,
                    "a call has one reply: take at most one `ReplyTo<T>`",
                );
            }
            replies_later = Some(t);
            params.push(Param::ReplyTo);
        } else {
            params.push(Param::Message(arg_name(pt, i)));
        }
    }
    (params, replies_later)
}

/// Whether `ty` is `&mut ServerContext<..>`.
fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => match &*r.elem {
            Type::Path(p) => p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "ServerContext"),
            _ => false,
        },
        _ => false,
    }
}

/// The receiver, the message arguments, and whether the last parameter is the context.
/// `lifecycle` methods (terminate) take references that are not messages.
fn typed_args<'f>(
    f: &'f ImplItemFn,
    errors: &mut Errors,
    lifecycle: bool,
) -> (Option<&'f syn::Receiver>, Vec<(syn::Ident, Type)>, bool) {
    let mut receiver = None;
    let mut args = Vec::new();
    let mut takes_ctx = false;
    let last = f.sig.inputs.len().saturating_sub(1);
    for (i, input) in f.sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(r) => receiver = Some(r),
            FnArg::Typed(pt) if i == last && is_context(&pt.ty) => takes_ctx = true,
            FnArg::Typed(pt) if is_context(&pt.ty) => {
                errors.push(&pt.ty, "the `&mut ServerContext<Self>` parameter goes last")
            }
            FnArg::Typed(_) if lifecycle => {}
            FnArg::Typed(pt) if reply_to_of(&pt.ty).is_some() => {}
            FnArg::Typed(pt) => {
                // `&'static T` can travel between processes; any other borrow cannot.
                if let Type::Reference(r) = &*pt.ty {
                    if r.lifetime.as_ref().is_some_and(|l| l.ident == "static") {
                        args.push((arg_name(pt, i), (*pt.ty).clone()));
                        continue;
                    }
                    errors.push(
                        r,
                        "arguments travel to the server's process and must be owned: take `T` (or `&'static T`), not `&T`",
                    );
                }
                args.push((arg_name(pt, i), (*pt.ty).clone()));
            }
        }
    }
    (receiver, args, takes_ctx)
}

fn parse_init(f: &ImplItemFn, errors: &mut Errors) -> InitFn {
    let (receiver, args, takes_ctx) = typed_args(f, errors, false);
    if let Some(r) = receiver {
        errors.push(r, "`init` builds the state: it takes no `self`");
    }
    if matches!(f.sig.output, ReturnType::Default) {
        errors.push(
            &f.sig.ident,
            "`init` must return the state: `-> Result<Self, ExitReason>` or `-> Init<Self>`",
        );
    }
    InitFn {
        is_async: f.sig.asyncness.is_some(),
        args,
        takes_ctx,
    }
}

fn parse_handler(f: &ImplItemFn, kind: Kind, errors: &mut Errors) -> Option<Handler> {
    let (receiver, args, takes_ctx) = typed_args(f, errors, false);
    let what = kind.attribute();
    if matches!(kind, Kind::Info | Kind::Continue) && args.len() != 1 {
        errors.push(
            &f.sig.inputs,
            format!("a {what} handler takes exactly one value: `fn on(&mut self, value: T)`"),
        );
    }
    if kind == Kind::Info {
        if let Some((_, ty)) = args.first() {
            if generic_of(ty, "Info").is_some() {
                errors.push(
                    ty,
                    "#[info] takes your own message type, not the runtime's `Info<T>`: handle `Down`, `Exit` and the idle timeout with #[down], #[exit] and #[timeout]",
                );
            }
        }
    }
    let expected = match kind {
        Kind::Down => Some(("Down", "fn on_down(&mut self, down: Down)")),
        Kind::Exit => Some(("Exit", "fn on_exit(&mut self, exit: Exit)")),
        _ => None,
    };
    if let Some((ty_name, example)) = expected {
        let ok = args.len() == 1
            && matches!(&args[0].1, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == ty_name));
        if !ok {
            errors.push(
                &f.sig.inputs,
                format!("a {what} handler takes the runtime's `{ty_name}`: `{example}`"),
            );
        }
    }
    if kind == Kind::Timeout && !args.is_empty() {
        errors.push(
            &f.sig.inputs,
            "a #[timeout] handler takes no value: `fn on_timeout(&mut self)` (set the timeout with `ctx.set_timeout`)",
        );
    }
    match receiver {
        None => {
            errors.push(
                &f.sig.ident,
                format!("a {what} handler runs on the server's state: take `&self` or `&mut self`"),
            );
            return None;
        }
        Some(r) if r.reference.is_none() => {
            errors.push(
                r,
                format!(
                    "a {what} handler borrows the state: take `&self` or `&mut self`, not `self`"
                ),
            );
            return None;
        }
        Some(_) => {}
    }
    let (params, replies_later) = params_of(f, errors);
    if replies_later.is_some() && kind != Kind::Call {
        errors.push(
            &f.sig.inputs,
            format!("`ReplyTo<T>` is a call's reply: a {what} has none"),
        );
    }
    if replies_later.is_some() && !matches!(f.sig.output, ReturnType::Default) {
        errors.push(
            &f.sig.output,
            "a call that replies through `ReplyTo<T>` returns nothing: remove the return type",
        );
    }
    let reply: Type = match (&replies_later, &f.sig.output) {
        (Some(t), _) => t.clone(),
        (None, ReturnType::Default) => syn::parse_quote!(()),
        (None, ReturnType::Type(_, ty)) => (**ty).clone(),
    };
    if kind != Kind::Call && !matches!(f.sig.output, ReturnType::Default) {
        errors.push(
            &f.sig.output,
            format!("a {what} has no reply: remove the return type, or make it a #[call]"),
        );
    }
    Some(Handler {
        kind,
        name: f.sig.ident.clone(),
        is_async: f.sig.asyncness.is_some(),
        args,
        reply,
        takes_ctx,
        replies_later: replies_later.is_some(),
        params,
    })
}

/// `snake_case` to `CamelCase`, for variant names.
pub(crate) fn camel(ident: &syn::Ident) -> syn::Ident {
    let mut out = String::new();
    let mut upper = true;
    for c in ident.to_string().trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    syn::Ident::new(&out, ident.span())
}
