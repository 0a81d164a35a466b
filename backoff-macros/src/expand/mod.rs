//! The pipeline, parse → validate → expand, and the expansion itself: the annotated fn keeps
//! its signature and gets a retry loop as its body ([`body::retry_loop`]), assembled from one
//! small generator per concern. The loop lives in the expansion (so the caller's future stays
//! `Send`); every decision is the runtime's (`Run::settle`, then `Run::fail_later`, `Run::failed`
//! or `Run::fail` for a failure).

mod attempt;
mod body;
mod handlers;
mod judge;
mod pace;
mod policy;
mod sleep;
mod wait;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, ItemFn, Pat, ReturnType, Signature, Type};

use crate::attr::{Args, On};
use crate::ctxt::Ctxt;

pub(crate) use handlers::is_async_handler;

/// `#[backoff(args)] item` → the expanded item, or the item unchanged after the errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let parsed = Args::parse(args, &mut cx, 0);
    let Some(mut f) = item_fn(&mut cx, &item) else {
        if let Err(e) = parsed {
            cx.push(e);
        }
        return with_errors(item, cx);
    };
    let outer = match parsed {
        Ok(args) => args,
        Err(e) => {
            cx.push(e);
            return with_errors(item, cx);
        }
    };
    // Stacked attributes nest like Python's stacked decorators: the one written first is the
    // outermost loop. The inner ones are parsed here, in order.
    let (inner, rest): (Vec<_>, Vec<_>) = f.attrs.drain(..).partition(is_backoff_attr);
    f.attrs = rest;
    let mut base = outer.count + 2;
    outer.validate(&mut cx, &f, 0);
    let mut layers = vec![outer];
    for attr in &inner {
        let tokens = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::Path(_) => TokenStream::new(),
            // Written first, rustc rejects this form itself; stacked below another, it is
            // ours to reject (it was taken as a layer with every default).
            syn::Meta::NameValue(nv) => {
                cx.push(syn::Error::new_spanned(
                    nv.eq_token,
                    "`#[backoff = ...]` is not a form of this attribute: write its arguments \
                     in parentheses, `#[backoff(max_tries = 3)]`",
                ));
                continue;
            }
        };
        cx.at(base);
        match Args::parse(tokens, &mut cx, base) {
            Ok(args) => {
                args.validate(&mut cx, &f, base);
                base += args.count + 2;
                layers.push(args);
            }
            Err(e) => cx.push(e),
        }
    }
    if cx.has_errors() {
        if inner
            .iter()
            .any(|a| matches!(a.meta, syn::Meta::NameValue(_)))
        {
            // Re-emitted without the `#[backoff = ...]`, which rustc would report twice more.
            f.attrs.extend(
                inner
                    .into_iter()
                    .filter(|a| !matches!(a.meta, syn::Meta::NameValue(_))),
            );
            return with_errors(f.into_token_stream(), cx);
        }
        return with_errors(item, cx);
    }
    expand_fn(f, &layers)
}

fn item_fn(cx: &mut Ctxt, item: &TokenStream) -> Option<ItemFn> {
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Fn(f)) => Some(f),
        Ok(syn::Item::Verbatim(tokens))
            if syn::parse2::<syn::TraitItemFn>(tokens.clone())
                .is_ok_and(|f| f.default.is_none()) =>
        {
            cx.error(
                tokens.span(),
                "`#[backoff]` needs a fn body to retry, and a declaration has none: for a trait method, put the attribute on the method in each `impl` of the trait; for a foreign fn (in an `extern` block), on a fn that calls it",
            );
            None
        }
        Ok(other) => {
            cx.error(
                item_span(&other),
                "`#[backoff]` goes on a fn (`async fn` or `fn`, free or in an impl) whose return value it can judge",
            );
            None
        }
        Err(e) => {
            cx.push(syn::Error::new(
                e.span(),
                "`#[backoff]` goes on a fn with a body (`async fn` or `fn`, free or in an impl); a trait method declaration has no body to retry",
            ));
            None
        }
    }
}

/// The original item, unchanged, after the errors: no cascade of follow-on errors.
fn with_errors(item: TokenStream, cx: Ctxt) -> TokenStream {
    let mut out = match cx.check() {
        Err(errors) => errors.to_compile_error(),
        Ok(()) => TokenStream::new(),
    };
    out.extend(item);
    out
}

fn item_span(item: &syn::Item) -> Span {
    match item {
        syn::Item::Struct(s) => s.struct_token.span,
        syn::Item::Enum(e) => e.enum_token.span,
        syn::Item::Const(c) => c.const_token.span,
        syn::Item::Static(s) => s.static_token.span,
        syn::Item::Mod(m) => m.mod_token.span,
        syn::Item::Impl(i) => i.impl_token.span,
        syn::Item::Trait(t) => t.trait_token.span,
        syn::Item::Type(t) => t.type_token.span,
        syn::Item::Use(u) => u.use_token.span,
        syn::Item::ForeignMod(m) => m.abi.span(),
        other => other.span(),
    }
}

/// Whether an attribute is another `#[backoff(...)]` (stacked).
fn is_backoff_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "backoff")
}

/// The fn with its body replaced by the layers' loops, innermost first.
fn expand_fn(mut f: ItemFn, layers: &[Args]) -> TokenStream {
    let renamed = attempt::name_patterns(&mut f);
    let mut block = (*f.block).clone();
    attempt::rebind_patterns(&mut block, renamed);
    let owned_self = attempt::receiver_is_rebound(&f.sig);
    for args in layers.iter().rev() {
        if owned_self {
            attempt::rewrite_self(&mut block);
        }
        let layer = Layer::new(args, &f.sig);
        block = body::retry_loop(&layer, &block);
    }
    // What sorts the handlers, once for the fn: every layer's calls see it (a second set in
    // an inner layer would not shadow the first for method calls, but clash with it).
    let all: Vec<Layer> = layers.iter().map(|a| Layer::new(a, &f.sig)).collect();
    let kinds = handlers::kinds(&all);
    if !kinds.is_empty() {
        let stmts = &block.stmts;
        block = syn::parse2(quote!({ #kinds #(#stmts)* })).unwrap_or(block);
    }
    *f.block = block;
    attempt::unmut_signature(&mut f.sig);
    f.into_token_stream()
}

/// Whether the return type is syntactically one of the types with a default judgement.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetShape {
    Unit,
    Result,
    Bool,
    Option,
    Other,
}

pub(crate) fn ret_shape(output: &ReturnType) -> RetShape {
    let ty = match output {
        ReturnType::Default => return RetShape::Unit,
        ReturnType::Type(_, ty) => strip_parens(ty),
    };
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => RetShape::Unit,
        Type::Path(p) if p.qself.is_none() => {
            match p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .as_deref()
            {
                Some("Result") => RetShape::Result,
                Some("bool") => RetShape::Bool,
                Some("Option") => RetShape::Option,
                _ => RetShape::Other,
            }
        }
        _ => RetShape::Other,
    }
}

fn strip_parens(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => strip_parens(&p.elem),
        Type::Group(g) => strip_parens(&g.elem),
        other => other,
    }
}

/// How a layer judges an outcome: the one place `on`, `predicate`, `giveup` and the return
/// type are read together.
pub(crate) enum Judge<'a> {
    /// Retry `Err`s (matching the pattern, if any); `giveup` may give up on some.
    Error(Option<&'a Pat>),
    /// `predicate` on the `Ok` value of a `Result`; an `Err` passes through untouched.
    OkValue(&'a Expr),
    /// `predicate` on the whole return value.
    Whole(&'a Expr),
    /// The return type's own judgement: `Err`, `false`, `None`.
    Default,
}

/// One layer being expanded: its arguments and what the signature tells about them.
pub(crate) struct Layer<'a> {
    pub(crate) args: &'a Args,
    /// The crate path (`::politely`, or `crate = "..."`).
    pub(crate) k: syn::Path,
    pub(crate) sig: &'a Signature,
    pub(crate) is_async: bool,
    /// The return type, unless it is `impl Trait` (which cannot be named again).
    pub(crate) ret_ty: Option<&'a Type>,
    pub(crate) judge: Judge<'a>,
}

impl<'a> Layer<'a> {
    fn new(args: &'a Args, sig: &'a Signature) -> Self {
        let shape = ret_shape(&sig.output);
        let predicate = args.expr(crate::attr::Key::Predicate);
        let judge = match (args.on(), predicate) {
            (Some(On::Error(pattern)), _) => Judge::Error(pattern.as_ref()),
            (Some(On::Outcome), Some(p)) => Judge::Whole(p),
            (_, Some(p)) if shape == RetShape::Result => Judge::OkValue(p),
            (_, Some(p)) => Judge::Whole(p),
            (None, None)
                if shape == RetShape::Result && args.get(crate::attr::Key::Giveup).is_some() =>
            {
                Judge::Error(None)
            }
            _ => Judge::Default,
        };
        Layer {
            args,
            k: args.crate_path(),
            sig,
            is_async: sig.asyncness.is_some(),
            ret_ty: match &sig.output {
                ReturnType::Type(_, ty) if !contains_impl_trait(ty) => Some(ty),
                _ => None,
            },
            judge,
        }
    }

    /// Whether failures are errors: the outcome is read as a `Result` (the wait generator's
    /// `runtime(value = ...)` and `retry_after` then see the error).
    pub(crate) fn error_mode(&self) -> bool {
        match self.judge {
            Judge::Error(_) => true,
            Judge::OkValue(_) | Judge::Whole(_) => false,
            Judge::Default => ret_shape(&self.sig.output) == RetShape::Result,
        }
    }

    /// The crate path with its tokens located at `span` (name resolution unchanged), so that
    /// an error about a call through it points at the user's argument.
    pub(crate) fn k_at(&self, span: Span) -> TokenStream {
        respan(self.k.to_token_stream(), span)
    }

    /// `<Ret as IsResult>::Err`, the error type, when the return type can be named.
    pub(crate) fn err_ty(&self) -> Option<TokenStream> {
        self.result_part(quote!(Err))
    }

    /// `<Ret as IsResult>::Ok`, the value type, when the return type can be named.
    pub(crate) fn ok_ty(&self) -> Option<TokenStream> {
        self.result_part(quote!(Ok))
    }

    fn result_part(&self, part: TokenStream) -> Option<TokenStream> {
        let ty = self.ret_ty?;
        let k = &self.k;
        Some(quote!(<#ty as #k::__private::IsResult>::#part))
    }

    /// Where errors about the return type go.
    pub(crate) fn ret_span(&self) -> Span {
        match &self.sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => self.sig.ident.span(),
        }
    }

    /// `<Ret as IsResult>::as_result`, spanned on the return type: a fn that does not return
    /// a `Result` gets one error there.
    pub(crate) fn as_result(&self) -> TokenStream {
        let span = self.ret_span();
        let k = self.k_at(span);
        match self.ret_ty {
            Some(ty) => quote::quote_spanned!(span=> <#ty as #k::__private::IsResult>::as_result),
            None => quote::quote_spanned!(span=> #k::__private::IsResult::as_result),
        }
    }
}

/// A closure of the attribute called with what it judges (`predicate`, `giveup`,
/// `retry_after`, `observe`), when its argument is typed and the type it receives can be
/// named: `(let, f)`, the closure bound as a `&mut dyn FnMut(&receives) -> out` and the name
/// to pass on. A wrong annotation is then one error on the closure that says what it
/// receives ("expected closure signature `fn(&Result<(), ApiError>) -> _`"), in no helper's
/// words. `None` for anything else, which goes to the runtime's helper as it is (an untyped
/// closure takes its argument type from there).
pub(crate) fn typed_closure(
    e: &Expr,
    receives: Option<TokenStream>,
    out: TokenStream,
) -> Option<(TokenStream, TokenStream)> {
    let Expr::Closure(c) = e else { return None };
    let typed = c.inputs.len() == 1 && matches!(c.inputs.first(), Some(Pat::Type(_)));
    if !typed || c.asyncness.is_some() {
        return None;
    }
    let receives = receives?;
    let span = e.span();
    let mut f = local("f");
    f.set_span(f.span().located_at(span));
    let bind = quote::quote_spanned! {span=>
        let #f: &mut dyn ::core::ops::FnMut(&#receives) -> #out = &mut #e;
    };
    Some((bind, quote!(#f)))
}

/// `tokens` as they are (same hygiene), but reported at `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                ng.set_span(g.span().located_at(span));
                tt = TokenTree::Group(ng);
            } else {
                tt.set_span(tt.span().located_at(span));
            }
            tt
        })
        .collect()
}

fn contains_impl_trait(ty: &Type) -> bool {
    fn any_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == "impl",
            TokenTree::Group(g) => any_impl(g.stream()),
            _ => false,
        })
    }
    any_impl(ty.to_token_stream())
}

/// A local of the expansion, `__backoff_<name>`, invisible to the user's code.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(&format!("__backoff_{name}"), Span::mixed_site())
}

pub(crate) fn some(t: impl ToTokens) -> TokenStream {
    quote!(::core::option::Option::Some(#t))
}

pub(crate) fn none() -> TokenStream {
    quote!(::core::option::Option::None)
}
