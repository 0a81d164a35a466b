//! The constant parts of a decision: the `Rules` (limits, log levels, seed, the `retry_after`
//! cap, the budget) and the jitter, rebuilt at each decision.
//!
//! A literal argument is written at the decision itself, where it costs nothing; any other
//! expression is evaluated once per call, as Python evaluates `max_tries` and `max_time`
//! once per call, into a local ([`Hoist`]). So the caller's future keeps only what a call
//! computed, never the whole policy.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::{Layer, local, none, some};
use crate::attr::{Jitter, Key, Level};

/// The values a call evaluates once, before its first attempt.
#[derive(Default)]
pub(crate) struct Hoist {
    /// `let __backoff_pN = ...;` in evaluation order.
    pub(crate) lets: TokenStream,
    count: usize,
    /// `max_value` (shared by the generator and the `retry_after` cap), once computed.
    max_value: Option<Option<TokenStream>>,
}

impl Hoist {
    /// `in_place` at each decision when `e` is a literal; else `once` evaluated into a local
    /// before the first attempt, and that local at each decision.
    pub(crate) fn value(
        &mut self,
        e: &Expr,
        in_place: TokenStream,
        once: TokenStream,
    ) -> TokenStream {
        if is_literal(e) {
            return in_place;
        }
        self.keep(once)
    }

    /// `once` evaluated into a local before the first attempt; the local.
    pub(crate) fn keep(&mut self, once: TokenStream) -> TokenStream {
        let name = local(&format!("p{}", self.count));
        self.count += 1;
        self.lets.extend(quote!(let #name = #once;));
        quote!(#name)
    }

    /// `max_value` of `expo` and `fibo`, as `Option<Duration>`, evaluated once.
    pub(crate) fn max_value(&mut self, layer: &Layer) -> Option<TokenStream> {
        if let Some(max) = &self.max_value {
            return max.clone();
        }
        let max =
            super::wait::max_value(layer).map(|(e, secs)| some(self.value(e, secs.clone(), secs)));
        self.max_value = Some(max.clone());
        max
    }
}

/// A literal, possibly negated or parenthesised: the same value wherever it is evaluated.
fn is_literal(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) => true,
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => is_literal(&u.expr),
        Expr::Paren(p) => is_literal(&p.expr),
        Expr::Group(g) => is_literal(&g.expr),
        _ => false,
    }
}

/// `(Rules { .. }, budget)` for the decision: the rules, with the fields left at their
/// default left out, and the budget (`Option<&RetryBudget>`) that the first attempt deposits
/// into.
pub(crate) fn rules(layer: &Layer, hoist: &mut Hoist) -> (TokenStream, TokenStream) {
    let k = &layer.k;
    let args = layer.args;
    let name = layer.sig.ident.to_string();
    let mut fields = Vec::new();
    if let Some(e) = args.expr(Key::MaxTries) {
        let kc = layer.k_at(e.span());
        let tries = match e {
            Expr::Closure(c) => quote_spanned!(c.span()=> #kc::__private::tries_of(#c)),
            e => quote_spanned!(e.span()=> #kc::__private::tries(#e)),
        };
        let tries = hoist.value(e, tries.clone(), tries);
        fields.push(quote!(max_tries: ::core::option::Option::Some(#tries)));
    }
    if let Some(e) = args.expr(Key::MaxTime) {
        let kc = layer.k_at(e.span());
        let secs = match e {
            Expr::Closure(c) => quote_spanned!(c.span()=> #kc::__private::secs_of(#c)),
            e => quote_spanned!(e.span()=> #kc::__private::secs(#e)),
        };
        let secs = hoist.value(e, secs.clone(), secs);
        fields.push(quote!(max_time: ::core::option::Option::Some(#secs)));
    }
    for (key, field, default) in [
        (Key::BackoffLogLevel, quote!(backoff_log_level), Level::Info),
        (Key::GiveupLogLevel, quote!(giveup_log_level), Level::Error),
    ] {
        if args.level_given(key) {
            let level = match args.level(key, default) {
                Some(level) => some(quote!(#k::__private::Level::#level)),
                None => none(),
            };
            fields.push(quote!(#field: #level));
        }
    }
    if let Some(e) = args.expr(Key::Seed) {
        let kc = layer.k_at(e.span());
        let seed = quote_spanned!(e.span()=> #kc::__private::seed(#e));
        let seed = hoist.value(e, seed.clone(), seed);
        fields.push(quote!(seed: ::core::option::Option::Some(#seed)));
    }
    if args.get(Key::RetryAfter).is_some()
        && let Some(max) = hoist.max_value(layer)
    {
        fields.push(quote!(retry_after_max: #max));
    }
    let budget = match args.expr(Key::Budget) {
        Some(b) => {
            let kb = layer.k_at(b.span());
            let budget = hoist.keep(quote_spanned!(b.span()=> #kb::__private::budget(&#b)));
            let budget = some(quote!(&#budget));
            fields.push(quote!(budget: #budget));
            budget
        }
        None => none(),
    };
    let rules = quote! {
        #k::__private::Rules {
            #(#fields,)*
            ..#k::__private::Rules::new(#name)
        }
    };
    (rules, budget)
}

/// `&J` for the decision: a named jitter is a constant; a function or a `Jitter` value is
/// evaluated once per call (a function is kept as it is: no allocation).
pub(crate) fn jitter(layer: &Layer, hoist: &mut Hoist) -> TokenStream {
    let k = &layer.k;
    match layer.args.jitter() {
        None => quote!(&#k::__private::jitters::Full),
        Some(Jitter::Named(name)) => quote!(&#k::__private::jitters::#name),
        Some(Jitter::Expr(Expr::Closure(c))) => {
            // Spanned on the closure: a wrong signature is reported there, not on the
            // attribute.
            let kc = layer.k_at(c.span());
            let f = hoist.keep(quote_spanned!(c.span()=> #kc::__private::jitter_fn(#c)));
            quote!(&#f)
        }
        Some(Jitter::Expr(e)) => {
            let kc = layer.k_at(e.span());
            // A lower-case path is most likely a fn: kept as it is, not put in an `Arc`.
            let make = if is_lower_case_path(e) {
                quote_spanned!(e.span()=> #kc::__private::jitter_path(#e))
            } else {
                quote_spanned!(e.span()=> #kc::__private::jitter(#e))
            };
            let j = hoist.keep(make);
            quote!(&#j)
        }
    }
}

/// `f`, `module::f`: a path whose last segment is lower case (a fn, or a variable), not a
/// `CONST`, a `Type::Variant` or a generic call.
fn is_lower_case_path(e: &Expr) -> bool {
    let Expr::Path(p) = e else { return false };
    p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| {
            s.arguments.is_none()
                && s.ident
                    .to_string()
                    .starts_with(|c: char| c.is_lowercase() || c == '_')
        })
}
