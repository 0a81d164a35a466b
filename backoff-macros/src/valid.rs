//! Validation, between parsing and expansion: what each value says, what arguments say
//! together, and what the fn allows. Every check reports into the [`Ctxt`], spanned on the
//! token at fault; the expansion runs only when none failed.

use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, ItemFn, ReturnType, Type};

use crate::attr::{Args, Gen, Given, Key, Kind, Number, On, Rate, Value, list, number};
use crate::ctxt::Ctxt;
use crate::expand::{RetShape, ret_shape};

impl Args {
    /// All checks of one layer on `item`.
    pub(crate) fn validate(&self, cx: &mut Ctxt, item: &ItemFn, base: usize) {
        for given in &self.given {
            cx.at(given.index);
            check_value(cx, given);
        }
        cx.at(base + self.count);
        self.check_together(cx);
        cx.at(base + self.count + 1);
        check_fn(cx, item, self);
    }

    /// Arguments that contradict or need each other.
    fn check_together(&self, cx: &mut Ctxt) {
        let generator = self.gen_kind();
        for given in &self.given {
            let Kind::Param(owners) = given.key.def().kind else {
                continue;
            };
            let name = given.key.name();
            if generator.takes(name) {
                continue;
            }
            let given_gen = if self.generator.is_some() {
                format!("the wait generator is `{}`", generator.name())
            } else {
                "no wait generator is named, so it is `expo`".to_owned()
            };
            let takes = if generator.params().next().is_none() {
                format!("`{}` takes no parameters", generator.name())
            } else {
                format!("`{}` takes {}", generator.name(), list(generator.params()))
            };
            cx.error(
                given.span,
                format_args!(
                    "`{name}` is a parameter of `{}`, but {given_gen}; {takes}",
                    owners[0].name()
                ),
            );
        }
        if let Some((span, Gen::Runtime)) = self.generator
            && self.get(Key::Value).is_none()
        {
            cx.error(
                span,
                "`runtime` needs `value = |outcome| ...` returning the next wait (`Option` of seconds or a `Duration`)",
            );
        }
        match (self.on(), self.span(Key::Predicate), self.span(Key::Giveup)) {
            (Some(On::Error(_)), Some(span), _) => cx.error(
                span,
                "`predicate` judges values, but `on = error` retries errors: drop `predicate`, or use `on = predicate`",
            ),
            (Some(On::Predicate), _, Some(span)) => cx.error(
                span,
                "`giveup` judges errors, but `on = predicate` retries on values: fold the give-up condition into `predicate`, or use `on = error`",
            ),
            (Some(On::Outcome), _, Some(span)) => cx.error(
                span,
                "`giveup` judges errors under `on = error`; with `on = outcome`, `predicate` alone decides (false ends the run, errors included): fold the give-up condition into `predicate`",
            ),
            (Some(On::Outcome), None, _) => cx.error(
                self.span(Key::On).unwrap_or_else(proc_macro2::Span::call_site),
                "`on = outcome` retries while `predicate` is true of the whole return value: add `predicate = |outcome| ...`",
            ),
            _ => {}
        }
        if let (Some(_), Some(span)) = (self.get(Key::Pacer), self.span(Key::Rate)) {
            cx.error(
                span,
                "`rate` makes a pacer and `pacer` supplies one: give one of them",
            );
        }
        if let Some(b) = self.expr(Key::Budget)
            && let Some(ctor) = budget_made_here(b)
        {
            cx.error_spanned(
                ctor,
                "`budget = RetryBudget::new(..)` makes a new budget for every call, which bounds nothing: make it once and share it (a field of your client, a `static`) and write `budget = &self.budget`",
            );
        }
        if let Some(p) = self.expr(Key::Pacer)
            && let Some(made) = pacer_made_here(p)
        {
            cx.error_spanned(made.call, made.message());
        }
        if let (Some(Rate::Adaptive), Some(span)) = (self.rate(), self.span(Key::Burst)) {
            cx.error(
                span,
                "`burst` shapes a fixed `rate = N per second`; `rate = adaptive` starts one attempt at a time at the rate it learns: drop `burst`",
            );
        }
        if let Some(span) = self.span(Key::Observe) {
            match self.rate() {
                Some(Rate::Fixed { .. }) => cx.error(
                    span,
                    "`observe` feeds a pacer that learns the rate, but `rate = N per second` makes a fixed one, which learns nothing: write `rate = adaptive` (it observes every attempt by itself), or drop `observe`",
                ),
                None if self.get(Key::Pacer).is_none() => cx.error(
                    span,
                    "`observe` tells the pacer how each attempt went, but this fn has no pacer: add `rate = adaptive` (a pacer per fn that learns the server's limit), or `pacer = <expr>, observe` with your `politely::Pacer::adaptive()`",
                ),
                _ => {}
            }
        }
        if self.rate().is_none()
            && let Some(span) = self.span(Key::Burst)
        {
            cx.error(
                span,
                "`burst` shapes the pacing of `rate = N per second`; add `rate`",
            );
        }
        // A supplied pacer (a Redis one, say) has keyed budgets as well.
        if !self.paces()
            && let Some(span) = self.span(Key::RateKey)
        {
            cx.error(
                span,
                "`rate_key` picks a budget of the fn's pacer; add `rate = N per second` or `pacer = <expr>`",
            );
        }
        if self.get(Key::Logger).is_some() {
            for key in [Key::BackoffLogLevel, Key::GiveupLogLevel] {
                if let Some(span) = self.span(key) {
                    cx.error(
                        span,
                        "`logger = none` silences logging; a log level has no effect with it: drop one of them",
                    );
                }
            }
        }
    }
}

/// What one value says, where a literal makes it knowable.
fn check_value(cx: &mut Ctxt, given: &Given) {
    if let Value::Rate(rate) = &given.value {
        if let Rate::Fixed { count, .. } = rate
            && let Some(Ok(n)) = number(count)
        {
            let v = n.as_f64();
            if v.is_nan() || v <= 0.0 {
                cx.error_spanned(
                    count,
                    "a rate must be more than zero attempts per unit; leave `rate` out not to pace",
                );
            }
        }
        return;
    }
    let Value::Expr(value) = &given.value else {
        return;
    };
    match given.key {
        Key::MaxTries => max_tries(cx, value),
        Key::MaxTime => seconds(cx, "max_time", value, Bound::Positive),
        Key::Base => {
            if let Some(Ok(n)) = number(value) {
                let base = n.as_f64();
                if base.is_nan() || base < 1.0 {
                    cx.error_spanned(
                        value,
                        format_args!(
                            "`base = {}` is out of range: `expo` multiplies each wait by `base`, so it must be at least 1 (use `decay` for waits that shrink)",
                            flat(value)
                        ),
                    );
                }
            } else if let Expr::Lit(lit) = value {
                cx.error(lit.span(), "`base` takes a number, e.g. `base = 3`");
            }
        }
        Key::DecayFactor => {
            if let Some(Ok(n)) = number(value) {
                let f = n.as_f64();
                if f.is_nan() || f < 0.0 {
                    cx.error_spanned(
                        value,
                        "`decay_factor` must be zero or more: a negative factor makes the waits grow without bound",
                    );
                }
            } else if let Expr::Lit(lit) = value {
                cx.error(
                    lit.span(),
                    "`decay_factor` takes a number, e.g. `decay_factor = 0.5`",
                );
            }
        }
        Key::Factor | Key::MaxValue | Key::MinValue | Key::InitialValue => {
            seconds(cx, given.key.name(), value, Bound::NonNegative);
        }
        Key::Interval => interval(cx, value),
        Key::Observe => {
            if let Expr::Lit(lit) = value {
                cx.error(
                    lit.span(),
                    "`observe` takes a closure or a fn from the fn's output to a `politely::Feedback` (`observe = |out| Feedback::from_http(out.status(), out.headers())`), or no value at all when the output tells by itself (`politely::RateFeedback`)",
                );
            }
        }
        Key::Burst => {
            if let Some(Ok(n)) = number(value) {
                let ok = matches!(n, Number::Int(i) if i >= 1 && i <= i128::from(u32::MAX));
                if !ok {
                    cx.error_spanned(
                        value,
                        "`burst` is how many attempts may start at once: an integer from 1 up",
                    );
                }
            }
        }
        _ => {}
    }
}

fn flat(value: &Expr) -> String {
    value.to_token_stream().to_string().replace(' ', "")
}

fn max_tries(cx: &mut Ctxt, value: &Expr) {
    const USAGE: &str = "`max_tries` takes an integer number of attempts, e.g. `max_tries = 5`";
    match number(value) {
        None => {
            if let Expr::Lit(lit) = value {
                cx.error(lit.span(), USAGE);
            }
        }
        Some(Ok(Number::Int(n))) if n >= 1 && n <= i128::from(u32::MAX) => {}
        Some(Ok(Number::Int(n))) if n >= 1 => cx.error_spanned(
            value,
            format_args!(
                "`max_tries = {}` is more than `u32::MAX` attempts; leave `max_tries` out for no limit",
                match value {
                    // As written (the parser gave a wide literal its suffix).
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    }) => i.base10_digits().to_owned(),
                    other => flat(other),
                }
            ),
        ),
        Some(Ok(Number::Int(n))) => cx.error_spanned(
            value,
            format_args!(
                "`max_tries = {n}` would never make an attempt: it counts attempts in all, the first included, so it must be at least 1 (leave it out for no limit)"
            ),
        ),
        Some(_) => cx.error_spanned(value, USAGE),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Bound {
    /// Strictly above zero.
    Positive,
    /// Zero or above.
    NonNegative,
}

/// Seconds: a literal is checked here; an expression or closure is the types' business.
fn seconds(cx: &mut Ctxt, key: &str, value: &Expr, bound: Bound) {
    let usage = format!(
        "`{key}` takes seconds as a number (`{key} = 300`, `{key} = 0.5`), a `Duration`, or a closure returning either"
    );
    let secs = match number(value) {
        None => {
            if let Expr::Lit(lit) = value {
                cx.error(lit.span(), usage);
            }
            return;
        }
        Some(Ok(n)) => n.as_f64(),
        Some(Err(())) => {
            cx.error_spanned(value, usage);
            return;
        }
    };
    let bad = match bound {
        Bound::Positive => secs.is_nan() || secs <= 0.0,
        Bound::NonNegative => secs.is_nan() || secs < 0.0,
    };
    if !bad && bound == Bound::Positive && secs < 1e-9 {
        cx.error_spanned(
            value,
            format_args!(
                "`{key} = {}` is less than a nanosecond, which is zero: it must be more than zero seconds",
                flat(value)
            ),
        );
        return;
    }
    if bad {
        let need = match bound {
            Bound::Positive => "more than zero seconds",
            Bound::NonNegative => "zero seconds or more",
        };
        let why = if key == "max_time" {
            " (a run with no time left would give up after its first attempt; leave `max_time` out for no limit)"
        } else {
            ""
        };
        cx.error_spanned(
            value,
            format_args!(
                "`{key} = {}` is out of range: it must be {need}{why}",
                flat(value)
            ),
        );
    }
}

/// `interval = 2`, `interval = [1, 2, 4]`, `interval = vec![..]`: a list needs a wait.
fn interval(cx: &mut Ctxt, value: &Expr) {
    let empty_vec =
        matches!(value, Expr::Macro(m) if m.mac.path.is_ident("vec") && m.mac.tokens.is_empty());
    let elems: Vec<&Expr> = match value {
        Expr::Array(a) if a.elems.is_empty() => Vec::new(),
        _ if empty_vec => Vec::new(),
        Expr::Array(a) => a.elems.iter().collect(),
        Expr::Macro(_) => return,
        other => vec![other],
    };
    if elems.is_empty() {
        cx.error_spanned(
            value,
            format_args!(
                "`interval = {}` gives no waits at all: list at least one (`interval = [1, 2, 4]`), or use `max_tries = 1` for no retries",
                flat(value)
            ),
        );
    }
    for e in elems {
        seconds(cx, "interval", e, Bound::NonNegative);
    }
}

/// What the attribute cannot go on, and what the fn's return type rules out.
fn check_fn(cx: &mut Ctxt, item: &ItemFn, args: &Args) {
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
    if let ReturnType::Type(_, ty) = &sig.output
        && let Type::Never(never) = &**ty
    {
        cx.error(
            never.bang_token.span,
            "`#[backoff]` needs a return value to judge, but this fn never returns (`-> !`): there is no outcome to retry on",
        );
    }
    let shape = ret_shape(&sig.output);
    if shape == RetShape::Unit {
        cx.error(
            sig.ident.span(),
            "`#[backoff]` needs a return value to judge, but this fn returns `()`: return a `Result` (retried on `Err`), a `bool` (retried on `false`) or an `Option` (retried on `None`)",
        );
    }
    if let (Some(On::Error(_)), RetShape::Bool | RetShape::Option) = (args.on(), shape)
        && let ReturnType::Type(_, ty) = &sig.output
    {
        cx.error(
            ty.span(),
            format_args!(
                "`on = error` needs a fn that returns `Result`, but this one returns `{}`; use `on = predicate` to retry on a value",
                ty.to_token_stream().to_string().replace(' ', "")
            ),
        );
    }
    if let Some(span) = args.span(Key::Giveup)
        && args.on().is_none()
        && shape != RetShape::Result
    {
        cx.error(
            span,
            "`giveup` judges errors, but this fn does not return `Result`: use `predicate` to say which values to retry, or add `on = error` if the return type is a `Result` under another name",
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && borrows_mut_argument(sig, ty)
    {
        cx.error_spanned(
            ty,
            "`#[backoff]` cannot return a borrow of a `&mut` argument: each attempt reborrows it, and the borrow checker cannot see that a failed attempt's borrow ends before the next one starts; return an owned value (an index, a copy) and borrow after the call",
        );
    }
    for key in [Key::OnSuccess, Key::OnBackoff, Key::OnGiveup] {
        for handler in args.handlers(key) {
            if let Expr::Closure(c) = handler
                && c.inputs.len() != 1
            {
                let mut inputs = c.inputs_begin.to_token_stream();
                c.inputs.to_tokens(&mut inputs);
                c.inputs_end.to_tokens(&mut inputs);
                cx.error_spanned(
                    inputs,
                    format_args!(
                        "`{}`: a handler takes one argument, the attempt's `&politely::Details` (`|details| ...`), but this closure takes {}",
                        key.name(),
                        c.inputs.len()
                    ),
                );
            }
            if sig.asyncness.is_none() && crate::expand::is_async_handler(handler) {
                cx.error(
                    async_span(handler),
                    format_args!(
                        "`{}`: an async handler cannot run in a sync fn; make the fn `async`",
                        key.name()
                    ),
                );
            }
        }
    }
}

/// Where an async handler says so: its `async` block.
fn async_span(handler: &Expr) -> proc_macro2::Span {
    match handler {
        Expr::Closure(c) => match &*c.body {
            Expr::Async(a) if c.asyncness.is_none() => a.span(),
            _ => c.span(),
        },
        other => other.span(),
    }
}

/// Whether the return type holds a borrow that can only come from a `&mut` argument (or
/// `&mut self`): a reference or lifetime that is elided while such an argument exists, or
/// named by one.
fn borrows_mut_argument(sig: &syn::Signature, ret: &Type) -> bool {
    let mut mut_lifetimes = Vec::new();
    let mut any_mut = false;
    for input in &sig.inputs {
        let reference = match input {
            syn::FnArg::Receiver(r) => match &r.kind {
                syn::ReceiverKind::Reference(_, lifetime, Some(_)) => Some(lifetime.clone()),
                syn::ReceiverKind::Typed(_, ty) => match &**ty {
                    Type::Reference(r) if r.mutability.is_some() => Some(r.lifetime.clone()),
                    _ => None,
                },
                _ => None,
            },
            syn::FnArg::Typed(pt) => match &*pt.ty {
                Type::Reference(r) if r.mutability.is_some() => Some(r.lifetime.clone()),
                _ => None,
            },
        };
        if let Some(lifetime) = reference {
            any_mut = true;
            mut_lifetimes.extend(lifetime.map(|l| l.ident.to_string()));
        }
    }
    if !any_mut {
        return false;
    }
    let mut found = false;
    scan_lifetimes(ret.to_token_stream(), &mut |lifetime| {
        found |= match lifetime {
            None => true,
            Some(name) => name == "_" || mut_lifetimes.iter().any(|m| m == name),
        };
    });
    found
}

/// Calls `f` with each lifetime of a type's tokens: `Some(name)` for `'name`, `None` for a
/// reference without one.
fn scan_lifetimes(tokens: proc_macro2::TokenStream, f: &mut impl FnMut(Option<&str>)) {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '\'' => {
                if let Some(TokenTree::Ident(name)) = tokens.get(i + 1) {
                    f(Some(&name.to_string()));
                }
            }
            TokenTree::Punct(p) if p.as_char() == '&' => {
                let named =
                    matches!(tokens.get(i + 1), Some(TokenTree::Punct(q)) if q.as_char() == '\'');
                if !named {
                    f(None);
                }
            }
            TokenTree::Group(g) => scan_lifetimes(g.stream(), f),
            _ => {}
        }
    }
}

/// The `RetryBudget::...(..)` call in `budget = RetryBudget::new(0.2).cap(10)`: a budget
/// built inside the fn is built per call.
fn budget_made_here(mut e: &syn::Expr) -> Option<&syn::Expr> {
    use syn::Expr;
    loop {
        match e {
            Expr::MethodCall(m) => e = &m.receiver,
            Expr::Reference(r) => e = &r.expr,
            Expr::Paren(p) => e = &p.expr,
            Expr::Call(c) => {
                return match &*c.func {
                    Expr::Path(p) if p.path.segments.iter().any(|s| s.ident == "RetryBudget") => {
                        Some(e)
                    }
                    _ => None,
                };
            }
            _ => return None,
        }
    }
}

/// A pacer constructor whose pacer `pacer = ...` would use: the call, and what it makes.
struct PacerMadeHere<'a> {
    call: &'a Expr,
    /// `Pacer::per_second`, `politely::RedisPacerBuilder::new`…: the type and the fn as written.
    ty: String,
    name: String,
}

impl PacerMadeHere<'_> {
    fn message(&self) -> String {
        let (ty, name) = (&self.ty, &self.name);
        let instead = if ty == "RedisPacerBuilder" || name.starts_with("redis") {
            ""
        } else if name.starts_with("adaptive") {
            "; or write `rate = adaptive` for one per fn that learns the rate"
        } else if name == "with_burst" {
            "; or write `rate = N per second, burst = B` for one per fn"
        } else {
            "; or write `rate = N per second` for one per fn"
        };
        format!(
            "`pacer = {ty}::{name}(..)` makes a new pacer for every call (`pacer` is evaluated once per call), which paces nothing: keep the pacer where every call sees it, a `static` (`static PACER: LazyLock<Pacer>`, then `pacer = &*PACER`) or a field of your client (`pacer = &self.pacer`){instead}"
        )
    }
}

/// The `Pacer::...(..)` or `RedisPacerBuilder::...(..)` call whose pacer `pacer = ...` is:
/// through references, builder chains (`RedisPacerBuilder::new(..).burst(2).build()`),
/// `.unwrap()`, `?`, `.await`, blocks, branches, and a fresh `Arc`/`Rc`/`Box`/`LazyLock` around
/// it. A pacer made inside the fn is made per call. `Pacer::unlimited()` paces nothing
/// wherever it is made, and a pacer made in a closure that a longer-lived value calls
/// (`PACERS.get_or_init(|| ..)`, `self.pacers.entry(k).or_insert_with(|| ..)`) is made once:
/// neither is reported.
fn pacer_made_here(e: &Expr) -> Option<PacerMadeHere<'_>> {
    match e {
        Expr::MethodCall(m) => pacer_made_here(&m.receiver),
        Expr::Reference(r) => pacer_made_here(&r.expr),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => pacer_made_here(&u.expr),
        Expr::Paren(p) => pacer_made_here(&p.expr),
        Expr::Group(g) => pacer_made_here(&g.expr),
        Expr::Try(t) => pacer_made_here(&t.expr),
        Expr::Await(a) => pacer_made_here(&a.base),
        Expr::Block(b) => tail_made_here(&b.block),
        Expr::Unsafe(u) => tail_made_here(&u.block),
        Expr::If(i) => tail_made_here(&i.then_branch)
            .or_else(|| i.else_branch.as_ref().and_then(|(_, e)| pacer_made_here(e))),
        Expr::Match(m) => m.arms.iter().find_map(|arm| pacer_made_here(&arm.body)),
        Expr::Call(c) => {
            let Expr::Path(p) = &*c.func else {
                return None;
            };
            let segments: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let [.., ty, name] = segments.as_slice() else {
                return None;
            };
            match (ty.as_str(), name.as_str()) {
                ("Pacer", "unlimited" | "now") => None,
                ("Pacer" | "RedisPacerBuilder", _) => Some(PacerMadeHere {
                    call: e,
                    ty: ty.clone(),
                    name: name.clone(),
                }),
                // A wrapper made here is as new as the pacer in it.
                ("Arc" | "Rc" | "Box" | "LazyLock", "new") => match c.args.first()? {
                    Expr::Closure(f) => pacer_made_here(&f.body),
                    arg => pacer_made_here(arg),
                },
                _ => None,
            }
        }
        _ => None,
    }
}

fn tail_made_here(block: &syn::Block) -> Option<PacerMadeHere<'_>> {
    match block.stmts.last()? {
        syn::Stmt::Expr(e, None) => pacer_made_here(e),
        _ => None,
    }
}
