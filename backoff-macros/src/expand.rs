//! Code generation: the annotated fn keeps its signature and gets a retry loop as its body.
//! The loop lives here, in the expansion (so the caller's future stays `Send`); every decision
//! is the runtime's `State::decide`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, Block, Expr, FnArg, Ident, ItemFn, Pat, PatIdent, ReceiverKind, ReturnType, Type,
};

use crate::attr::{Args, Ctxt, Gen, JitterArg, Limit, On, crate_path};

/// Whether the return type is syntactically one of the types with a default judgement.
#[derive(Clone, Copy, PartialEq)]
enum RetShape {
    Unit,
    Result,
    Bool,
    Option,
    Other,
}

fn ret_shape(output: &ReturnType) -> RetShape {
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

fn contains_impl_trait(ty: &Type) -> bool {
    ty.to_token_stream()
        .into_iter()
        .any(|t| matches!(&t, TokenTree::Ident(i) if i == "impl") || has_impl_in_group(&t))
}

fn has_impl_in_group(t: &TokenTree) -> bool {
    match t {
        TokenTree::Group(g) => g
            .stream()
            .into_iter()
            .any(|t| matches!(&t, TokenTree::Ident(i) if i == "impl") || has_impl_in_group(&t)),
        _ => false,
    }
}

/// Checks the fn itself: what the attribute cannot go on.
pub(crate) fn check_fn(cx: &mut Ctxt, item: &ItemFn, args: &Args) {
    let sig = &item.sig;
    if let Some(c) = &sig.constness {
        cx.error(
            c.span(),
            "`#[backoff]` cannot go on a `const fn`: retrying sleeps and reads the clock, which a const fn cannot do; remove `const`",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error(
            abi.span(),
            "`#[backoff]` cannot go on an `extern` fn: the retry loop is Rust code with Rust's ABI; annotate a Rust fn and call it from your `extern` wrapper",
        );
    }
    if let Some(v) = &sig.variadic {
        cx.error(v.span(), "`#[backoff]` cannot retry a variadic fn");
    }
    let shape = ret_shape(&sig.output);
    if shape == RetShape::Unit {
        cx.error(
            sig.ident.span(),
            "`#[backoff]` needs a return value to judge, but this fn returns `()`: return a `Result` (retried on `Err`), a `bool` (retried on `false`) or an `Option` (retried on `None`)",
        );
    }
    if let (Some(On::Error(_)), RetShape::Bool | RetShape::Option) = (args.on.get(), shape)
        && let ReturnType::Type(_, ty) = &sig.output
    {
        {
            cx.error(
                ty.span(),
                format_args!(
                    "`on = error` needs a fn that returns `Result`, but this one returns `{}`; use `on = predicate` to retry on a value",
                    ty.to_token_stream().to_string().replace(' ', "")
                ),
            );
        }
    }
    if let Some(span) = args.giveup.span()
        && args.on.get().is_none()
        && shape != RetShape::Result
    {
        cx.error(
            span,
            "`giveup` judges errors, but this fn does not return `Result`: use `predicate` to say which values to retry, or add `on = error` if the return type is a `Result` under another name",
        );
    }
    if sig.asyncness.is_none() {
        for (name, slot) in [
            ("on_success", &args.on_success),
            ("on_backoff", &args.on_backoff),
            ("on_giveup", &args.on_giveup),
        ] {
            for handler in slot.get().into_iter().flatten() {
                if let Expr::Async(a) = handler {
                    cx.error(
                        a.span(),
                        format_args!("`{name}`: an async handler cannot run in a sync fn; make the fn `async`"),
                    );
                }
            }
        }
    }
}

/// The body of one layer: a retry loop around `block`.
pub(crate) fn expand_layer(args: &Args, item: &ItemFn, block: &Block) -> Block {
    let k = crate_path(args);
    let m = Span::mixed_site();
    let sig = &item.sig;
    let is_async = sig.asyncness.is_some();
    let name = sig.ident.to_string();
    let shape = ret_shape(&sig.output);
    let ret_ty: Option<&Type> = match &sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => Some(ty),
        _ => None,
    };
    let error_mode = match args.on.get() {
        Some(On::Error(_)) => true,
        Some(On::Predicate) => false,
        None => shape == RetShape::Result,
    };

    let outcome = Ident::new("__backoff_outcome", m);
    let state = Ident::new("__backoff_state", m);
    let elapsed = Ident::new("__backoff_elapsed", m);
    let error = Ident::new("__backoff_error", m);

    // The wait generator, evaluated per call.
    let num = |name: &str, default: TokenStream| -> TokenStream {
        args.param(name).map_or(default, |e| e.to_token_stream())
    };
    let opt_secs = |name: &str| -> TokenStream {
        match args.param(name) {
            Some(e) => quote!(::core::option::Option::Some(#k::__private::secs(#e))),
            None => quote!(::core::option::Option::None),
        }
    };
    let wait = match args.gen_kind() {
        Gen::Expo => {
            let (base, factor, max) = (
                num("base", quote!(2)),
                num("factor", quote!(1)),
                opt_secs("max_value"),
            );
            quote!(#k::__private::expo(#base, #factor, #max))
        }
        Gen::Fibo => {
            let max = opt_secs("max_value");
            quote!(#k::__private::Fibo::new(#max))
        }
        Gen::Constant => match args.param("interval") {
            Some(e @ Expr::Array(_)) => quote!(#k::__private::Intervals::new(#e)),
            Some(Expr::Macro(mac)) if mac.mac.path.is_ident("vec") => {
                quote!(#k::__private::Intervals::new(#mac))
            }
            Some(e) => quote!(#k::__private::Constant::new(#k::__private::secs(#e))),
            None => quote!(#k::__private::Constant::new(#k::__private::secs(1))),
        },
        Gen::Decay => {
            let (init, factor, min) = (
                num("initial_value", quote!(1)),
                num("decay_factor", quote!(1)),
                opt_secs("min_value"),
            );
            quote!(#k::__private::decay(#init, #factor, #min))
        }
        Gen::Runtime => {
            let value = num("value", quote!(|_| ::core::option::Option::None::<u64>));
            match (error_mode, ret_ty) {
                (true, Some(ty)) => quote_spanned! {value.span()=>
                    #k::__private::OnErr(#k::__private::runtime::<<#ty as #k::__private::IsResult>::Err, _, _>(#value))
                },
                (true, None) => quote!(#k::__private::OnErr(#k::__private::Runtime(#value))),
                (false, Some(ty)) => quote_spanned! {value.span()=>
                    #k::__private::runtime::<#ty, _, _>(#value)
                },
                (false, None) => quote!(#k::__private::Runtime(#value)),
            }
        }
        Gen::Custom => args
            .wait
            .get()
            .map_or_else(|| quote!(()), ToTokens::to_token_stream),
    };

    let some = |t: TokenStream| quote!(::core::option::Option::Some(#t));
    let none = quote!(::core::option::Option::None);
    let max_tries = match args.max_tries.get() {
        None => none.clone(),
        Some(Limit::Lit(t)) => some(t.clone()),
        Some(Limit::Expr(Expr::Closure(c))) => {
            let k = at(&k, c.span());
            some(quote_spanned!(c.span()=> #k::__private::tries_of(#c)))
        }
        Some(Limit::Expr(e)) => {
            let k = at(&k, e.span());
            some(quote_spanned!(e.span()=> #k::__private::tries(#e)))
        }
    };
    let max_time = match args.max_time.get() {
        None => none.clone(),
        Some(Limit::Lit(t)) => some(quote!(#k::__private::secs(#t))),
        Some(Limit::Expr(Expr::Closure(c))) => {
            let k = at(&k, c.span());
            some(quote_spanned!(c.span()=> #k::__private::secs_of(#c)))
        }
        Some(Limit::Expr(e)) => {
            let k = at(&k, e.span());
            some(quote_spanned!(e.span()=> #k::__private::secs(#e)))
        }
    };
    let jitter = match args.jitter.get() {
        None => quote!(#k::__private::Jitter::Full),
        Some(JitterArg::Named(v)) => {
            let v = Ident::new(v, Span::call_site());
            quote!(#k::__private::Jitter::#v)
        }
        Some(JitterArg::Expr(Expr::Closure(c))) => quote!(#k::__private::Jitter::custom(#c)),
        Some(JitterArg::Expr(e)) => {
            let k = at(&k, e.span());
            quote_spanned!(e.span()=> #k::__private::jitter(#e))
        }
    };
    let level = |slot: &crate::attr::Slot<crate::attr::LogLevel>, default: &str| -> TokenStream {
        let chosen = if args.logger.get().is_some() {
            None
        } else {
            slot.get().copied().unwrap_or(Some(match default {
                "INFO" => "INFO",
                _ => "ERROR",
            }))
        };
        match chosen {
            Some(l) => {
                let l = Ident::new(l, Span::call_site());
                quote!(::core::option::Option::Some(#k::__private::Level::#l))
            }
            None => quote!(::core::option::Option::None),
        }
    };
    let backoff_level = level(&args.backoff_log_level, "INFO");
    let giveup_level = level(&args.giveup_log_level, "ERROR");
    let seed = match args.seed.get() {
        Some(e) => {
            let k = at(&k, e.span());
            some(quote_spanned!(e.span()=> #k::__private::seed(#e)))
        }
        None => none,
    };

    // `<Ret as IsResult>::as_result`, spanned on the return type: a fn that does not return
    // a `Result` gets one error there.
    let as_result = || {
        let span = ret_span(sig);
        let ka = at(&k, span);
        match ret_ty {
            Some(ty) => quote_spanned!(span=> <#ty as #ka::__private::IsResult>::as_result),
            None => quote_spanned!(span=> #ka::__private::IsResult::as_result),
        }
    };

    // How an outcome is judged.
    let giveup = |e: &Ident| match args.giveup.get() {
        Some(g) => quote_spanned!(g.span()=> #k::__private::giveup(#e, #g)),
        None => quote!(false),
    };
    // Errors: `on = error`, `on = error(Pattern)`, or a `Result` fn with a `giveup`.
    let judge_error = |pattern: Option<&Pat>| {
        let matched = match pattern {
            Some(p) => quote_spanned!(p.span()=> ::core::matches!(#error, #p)),
            None => quote!(true),
        };
        let giveup = giveup(&error);
        let span = ret_span(sig);
        let as_result = as_result();
        quote_spanned! {span=>
            match #as_result(&#outcome) {
                ::core::result::Result::Ok(_) => #k::__private::Verdict::Success,
                ::core::result::Result::Err(#error) => {
                    if !(#matched) {
                        #k::__private::Verdict::Propagate
                    } else if #giveup {
                        #k::__private::Verdict::GiveUp
                    } else {
                        #k::__private::Verdict::Retry
                    }
                }
            }
        }
    };
    let verdict = match (args.on.get(), args.predicate.get()) {
        (Some(On::Error(pattern)), _) => judge_error(pattern.as_ref()),
        (_, Some(p)) => quote_spanned! {p.span()=>
            #k::__private::judge_predicate(#k::__private::predicate(&#outcome, #p))
        },
        (None, None) if error_mode && args.giveup.get().is_some() => judge_error(None),
        _ => {
            let span = ret_span(sig);
            let ka = at(&k, span);
            match ret_ty {
                Some(ty) => {
                    quote_spanned!(span=> #ka::__private::judge_default::<#ty>(&#outcome))
                }
                None => quote_spanned!(span=> #ka::__private::judge_default(&#outcome)),
            }
        }
    };

    // Handlers.
    let details = Ident::new("__backoff_details", m);
    let handlers = |list: Option<&Vec<Expr>>, wait: TokenStream| -> TokenStream {
        let list = list.map(Vec::as_slice).unwrap_or_default();
        if list.is_empty() {
            return TokenStream::new();
        }
        let calls = list.iter().map(|h| {
            let ret = Ident::new("__backoff_ret", m);
            // Errors about a handler point at the handler.
            let k = at(&k, h.span());
            let details = Ident::new("__backoff_details", m.located_at(h.span()));
            if is_async {
                quote_spanned! {h.span()=>
                    {
                        #[allow(unused_imports)]
                        use #k::__private::{AsyncHandler as _, UnitHandler as _};
                        let #ret = #k::__private::handler(&#details, #h);
                        (&#ret).__backoff_kind().into_future(#ret).await;
                    }
                }
            } else {
                quote_spanned! {h.span()=>
                    #k::__private::sync_handler(#k::__private::handler(&#details, #h));
                }
            }
        });
        quote! {
            let #details = #state.details(&#outcome, #elapsed, #wait);
            #(#calls)*
        }
    };
    let wait_ident = Ident::new("__backoff_wait", m);
    let on_success = handlers(args.on_success.get(), none_tokens());
    let on_backoff = handlers(
        args.on_backoff.get(),
        quote!(::core::option::Option::Some(#wait_ident)),
    );
    let on_giveup = handlers(args.on_giveup.get(), none_tokens());

    // The attempt: a fresh copy of each owned argument, then the body.
    let prelude = prelude(&k, sig, block);
    let fake_return = ret_ty.map(|ty| {
        let fake = Ident::new("__backoff_fake_return", m);
        quote! {
            #[allow(unknown_lints, unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::let_unit_value)]
            if false {
                let #fake: #ty = loop {};
                return #fake;
            }
        }
    });
    let stmts = &block.stmts;
    let now = match (args.clock.get(), is_async) {
        (Some(c), _) => quote_spanned!(c.span()=> #k::__private::call0(#c)),
        (None, true) => quote!(#k::__private::async_now()),
        (None, false) => quote!(#k::__private::sync_now()),
    };
    let attempt = if is_async {
        quote!(async { #prelude #fake_return #(#stmts)* }.await)
    } else {
        quote! {
            (|| { #prelude #fake_return #(#stmts)* })()
        }
    };
    let sleep = match (args.sleep.get(), is_async) {
        (Some(s), true) => {
            let k = at(&k, s.span());
            quote_spanned!(s.span()=> #k::__private::sleep_async(#s, #wait_ident).await;)
        }
        (Some(s), false) => {
            let k = at(&k, s.span());
            quote_spanned!(s.span()=> #k::__private::call_sleep(#s, #wait_ident);)
        }
        (None, true) => quote!(#k::__private::async_sleep(#wait_ident).await;),
        (None, false) => quote!(#k::__private::sync_sleep(#wait_ident);),
    };
    let start = Ident::new("__backoff_start", m);
    let action = Ident::new("__backoff_action", m);

    // Retry-After: the server's wait, read from the error (or the value) only when the run
    // goes on; capped by the generator's `max_value`.
    let retry_after_max = match args.param("max_value") {
        Some(_) if matches!(args.gen_kind(), Gen::Expo | Gen::Fibo) => opt_secs("max_value"),
        _ => quote!(::core::option::Option::None),
    };
    let hint = match args.retry_after.get() {
        None => quote!(::core::option::Option::None),
        Some(f) => {
            let ka = at(&k, f.span());
            if error_mode {
                let as_result = as_result();
                quote_spanned! {f.span()=>
                    match #as_result(&#outcome) {
                        ::core::result::Result::Err(#error) => #ka::__private::retry_after(#error, #f),
                        ::core::result::Result::Ok(_) => ::core::option::Option::None,
                    }
                }
            } else {
                quote_spanned!(f.span()=> #ka::__private::retry_after(&#outcome, #f))
            }
        }
    };

    // Pacing: wait for the pacer before every attempt, retries included.
    let pacer = Ident::new("__backoff_pacer", m);
    let pacer_init = match (args.rate.get(), args.pacer.get()) {
        (Some(rate), _) => {
            let count = &rate.count;
            let per = rate.per_secs;
            let burst = args
                .burst
                .get()
                .map_or_else(|| quote!(1u32), ToTokens::to_token_stream);
            let kc = at(&k, count.span());
            quote! {
                static __BACKOFF_PACER: #k::__private::OnceLock<#k::__private::Pacer> =
                    #k::__private::OnceLock::new();
                let #pacer: &#k::__private::Pacer = __BACKOFF_PACER.get_or_init(|| {
                    #k::__private::Pacer::with_burst(
                        #kc::__private::ToF64::to_f64(#count),
                        ::core::time::Duration::from_secs(#per),
                        #burst,
                    )
                });
            }
        }
        (None, Some(p)) => {
            let kp = at(&k, p.span());
            quote_spanned!(p.span()=> let #pacer: &#kp::__private::Pacer = #kp::__private::pacer(&#p);)
        }
        (None, None) => TokenStream::new(),
    };
    let pace = if pacer_init.is_empty() {
        TokenStream::new()
    } else {
        let key = match args.rate_key.get() {
            Some(e) => quote_spanned! {e.span()=>
                ::core::option::Option::Some(#k::__private::pace_key(#e).as_str())
            },
            None => quote!(::core::option::Option::None),
        };
        if is_async {
            quote!(#state.add_queued(#pacer.ready(#key).await);)
        } else {
            quote!(#state.add_queued(#pacer.ready_blocking(#key));)
        }
    };
    // Elapsed time is read only by `max_time` and by handlers; without either, the clock is
    // never read (two clock reads are most of the cost of a first-try success).
    let needs_clock = args.max_time.get().is_some()
        || [&args.on_success, &args.on_backoff, &args.on_giveup]
            .iter()
            .any(|h| h.get().is_some_and(|l| !l.is_empty()));
    let (start_clock, read_elapsed) = if needs_clock {
        (
            quote!(let #start = #now;),
            match args.clock.get() {
                // A clock of the wrong type is reported on `clock = ...`.
                Some(c) => {
                    let kc = at(&k, c.span());
                    quote_spanned!(c.span()=> #kc::__private::elapsed(&#start, #now))
                }
                None => quote!(#k::__private::elapsed(&#start, #now)),
            },
        )
    } else {
        (TokenStream::new(), quote!(::core::time::Duration::ZERO))
    };

    // Retry budget: shared by every call that names it; the policy holds a handle.
    let policy = quote! {
        #k::__private::policy(#max_tries, #max_time, #jitter, #backoff_level, #giveup_level, #seed, #retry_after_max)
    };
    let policy = match args.budget.get() {
        Some(b) => {
            let kb = at(&k, b.span());
            quote_spanned!(b.span()=> #kb::__private::with_budget(#policy, &#b))
        }
        None => policy,
    };

    let body = quote! {{
        let mut #state = #k::__private::State::new(
            #name,
            #wait,
            #policy,
        );
        #pacer_init
        #start_clock
        loop {
            #pace
            let #wait_ident = {
                #[allow(clippy::redundant_closure_call)]
                let #outcome = #attempt;
                let #elapsed = #read_elapsed;
                let #action = {
                    #[allow(unused_imports)]
                    use #k::__private::{ViaDebug as _, ViaOpaque as _};
                    let __backoff_verdict = #verdict;
                    #state.decide_with_hint(
                        &#outcome,
                        __backoff_verdict,
                        #elapsed,
                        &(&#k::__private::Describe(&#outcome)).__backoff_describe(),
                        || #hint,
                    )
                };
                match #action {
                    #k::__private::Action::Backoff(#wait_ident) => {
                        #on_backoff
                        #wait_ident
                    }
                    #k::__private::Action::Success => {
                        #on_success
                        return #outcome;
                    }
                    #k::__private::Action::GiveUp => {
                        #on_giveup
                        return #outcome;
                    }
                    #k::__private::Action::Propagate => return #outcome,
                }
            };
            #sleep
        }
    }};
    syn::parse2(body).unwrap_or_else(|e| {
        // Unreachable for well-formed input; report rather than panic.
        let err = e.to_compile_error();
        syn::parse_quote!({ #err })
    })
}

/// The crate path with every token located at `span` (name resolution unchanged), so that an
/// error about a call through it points at the user's argument, not the whole attribute.
fn at(k: &syn::Path, span: Span) -> TokenStream {
    fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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
    respan(k.to_token_stream(), span)
}

fn none_tokens() -> TokenStream {
    quote!(::core::option::Option::None)
}

fn ret_span(sig: &syn::Signature) -> Span {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    }
}

/// `let arg = arg.clone_arg();` for each owned argument the body names; `&mut` ones are
/// reborrowed. Arguments the body never names (used only by the attribute's expressions, or
/// not at all) are neither cloned nor required to be `Clone`.
fn prelude(k: &syn::Path, sig: &syn::Signature, block: &Block) -> TokenStream {
    let mut named = std::collections::HashSet::new();
    collect_idents(block.to_token_stream(), &mut named);
    let mut out = TokenStream::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => {
                if matches!(r.kind, ReceiverKind::Value) && named.contains("__backoff_self") {
                    let this = self_ident();
                    let mutability = &r.mutability;
                    out.extend(quote_spanned! {r.self_token.span()=>
                        #[allow(unused_mut)]
                        let #mutability #this = #k::__private::CloneArg::clone_arg(&self);
                    });
                }
            }
            FnArg::Typed(pt) => {
                let Pat::Ident(PatIdent {
                    by_ref: None,
                    mutability,
                    ident,
                    subpat: None,
                    ..
                }) = &*pt.pat
                else {
                    continue;
                };
                if !named.contains(&ident.to_string()) {
                    continue;
                }
                match &*pt.ty {
                    Type::Reference(r) if r.mutability.is_some() => out.extend(quote! {
                        #[allow(unused_mut)]
                        let #mutability #ident = &mut *#ident;
                    }),
                    Type::Reference(_) => {}
                    ty => out.extend(quote_spanned! {ty.span()=>
                        #[allow(unused_mut)]
                        let #mutability #ident = #k::__private::CloneArg::clone_arg(&#ident);
                    }),
                }
            }
        }
    }
    out
}

/// Renames patterns that are not plain identifiers (`(a, b): (u32, u32)`) so that each attempt
/// can re-bind them from a fresh copy.
pub(crate) fn name_patterns(item: &mut ItemFn) -> Vec<(Pat, Ident)> {
    let mut renamed = Vec::new();
    for (i, arg) in item.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        if matches!(&*pt.pat, Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none())
            || matches!(&*pt.pat, Pat::Wild(_))
        {
            continue;
        }
        let ident = format_ident!("__backoff_arg{}", i, span = Span::mixed_site());
        let pat = std::mem::replace(
            &mut *pt.pat,
            Pat::Ident(PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident: ident.clone(),
                subpat: None,
            }),
        );
        renamed.push((pat, ident));
    }
    renamed
}

/// `let PAT = __backoff_argN;` at the top of the original body, so the renamed arguments are
/// cloned (by the prelude) and then destructured per attempt.
pub(crate) fn rebind_patterns(block: &mut Block, renamed: Vec<(Pat, Ident)>) {
    let lets: Vec<syn::Stmt> = renamed
        .into_iter()
        .map(|(pat, ident)| syn::parse_quote!(let #pat = #ident;))
        .collect();
    block.stmts.splice(0..0, lets);
}

fn collect_idents(tokens: TokenStream, out: &mut std::collections::HashSet<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => collect_idents(g.stream(), out),
            // `format!("{to}")` names `to` inside a string: keep every identifier-like word
            // of a literal, so inline format arguments count as uses.
            TokenTree::Literal(l) => {
                let text = l.to_string();
                for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if !word.is_empty() {
                        out.insert(word.to_owned());
                    }
                }
            }
            TokenTree::Punct(_) => {}
        }
    }
}

fn self_ident() -> Ident {
    Ident::new("__backoff_self", Span::mixed_site())
}

/// Rewrites `self` in a body to the per-attempt copy, for fns that take `self` by value.
pub(crate) fn rewrite_self(block: &mut Block) {
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_expr_path_mut(&mut self, e: &mut syn::ExprPath) {
            if e.qself.is_none() && e.path.is_ident("self") {
                e.path = self_ident().into();
            }
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            mac.tokens = rewrite_tokens(std::mem::take(&mut mac.tokens));
        }
    }
    Rewrite.visit_block_mut(block);
}

fn rewrite_tokens(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(i) if i == "self" => TokenTree::Ident(self_ident()),
            TokenTree::Group(g) => {
                let mut ng = proc_macro2::Group::new(g.delimiter(), rewrite_tokens(g.stream()));
                ng.set_span(g.span());
                TokenTree::Group(ng)
            }
            other => other,
        })
        .collect()
}

/// Whether an attribute is another `#[backoff(...)]` (stacked).
pub(crate) fn is_backoff_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "backoff")
}
