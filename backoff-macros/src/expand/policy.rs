//! The `Policy`: limits, jitter, log levels, seed, the `retry_after` cap, by field name.
//! Fields left at their default are left out (`..Policy::default()`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::{Layer, none, some};
use crate::attr::{Jitter, Key, Level};

pub(crate) fn policy(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let args = layer.args;
    let mut fields = Vec::new();
    if let Some(e) = args.expr(Key::MaxTries) {
        let kc = layer.k_at(e.span());
        let tries = match e {
            Expr::Closure(c) => quote_spanned!(c.span()=> #kc::__private::tries_of(#c)),
            e => quote_spanned!(e.span()=> #kc::__private::tries(#e)),
        };
        fields.push(quote!(max_tries: ::core::option::Option::Some(#tries)));
    }
    if let Some(e) = args.expr(Key::MaxTime) {
        let kc = layer.k_at(e.span());
        let secs = match e {
            Expr::Closure(c) => quote_spanned!(c.span()=> #kc::__private::secs_of(#c)),
            e => quote_spanned!(e.span()=> #kc::__private::secs(#e)),
        };
        fields.push(quote!(max_time: ::core::option::Option::Some(#secs)));
    }
    if let Some(jitter) = args.jitter() {
        let jitter = match jitter {
            Jitter::Named(name) => quote!(#k::__private::Jitter::#name),
            Jitter::Expr(Expr::Closure(c)) => quote!(#k::__private::Jitter::custom(#c)),
            Jitter::Expr(e) => {
                let kc = layer.k_at(e.span());
                quote_spanned!(e.span()=> #kc::__private::jitter(#e))
            }
        };
        fields.push(quote!(jitter: #jitter));
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
        fields.push(quote!(seed: ::core::option::Option::Some(#seed)));
    }
    if args.get(Key::RetryAfter).is_some()
        && let Some(max) = super::wait::max_value(layer)
    {
        fields.push(quote!(retry_after_max: #max));
    }
    if let Some(b) = args.expr(Key::Budget) {
        let kb = layer.k_at(b.span());
        let budget = quote_spanned!(b.span()=> #kb::__private::budget(&#b));
        fields.push(quote!(budget: ::core::option::Option::Some(#budget)));
    }
    quote! {
        #k::__private::Policy {
            #(#fields,)*
            ..#k::__private::Policy::default()
        }
    }
}
