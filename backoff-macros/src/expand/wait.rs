//! The wait generator: its parameters, rebuilt at each decision (a literal in place, any
//! other expression evaluated once per call), and its progress, the only part the caller's
//! future keeps. A generator of yours (`wait = ...`) and `runtime(value = ...)` are kept
//! whole, made once per call.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Token};

use super::policy::Hoist;
use super::{Layer, none, some};
use crate::attr::{Gen, Key};

/// `(schedule, progress)`: the `Schedule` passed to each decision, and the progress a run
/// starts from.
pub(crate) fn wait(layer: &Layer, hoist: &mut Hoist) -> (TokenStream, TokenStream) {
    let k = &layer.k;
    let args = layer.args;
    let zero = quote!(0u32);
    let mut param =
        |key: Key, default: TokenStream, once: fn(&TokenStream, &Expr) -> TokenStream| match args
            .expr(key)
        {
            Some(e) => {
                let kc = layer.k_at(e.span());
                hoist.value(e, e.to_token_stream(), once(&kc, e))
            }
            None => default,
        };
    let f64_of: fn(&TokenStream, &Expr) -> TokenStream =
        |k, e| quote_spanned!(e.span()=> #k::__private::ToF64::to_f64(#e));
    let secs_of: fn(&TokenStream, &Expr) -> TokenStream =
        |k, e| quote_spanned!(e.span()=> #k::__private::secs(#e));
    match args.gen_kind() {
        Gen::Expo => {
            let base = param(Key::Base, quote!(2), f64_of);
            let factor = param(Key::Factor, quote!(1), secs_of);
            let max = hoist.max_value(layer).unwrap_or_else(none);
            (quote!(#k::__private::expo(#base, #factor, #max)), zero)
        }
        Gen::Fibo => {
            let max = hoist.max_value(layer).unwrap_or_else(none);
            (quote!(#k::__private::Fibo::new(#max)), zero)
        }
        Gen::Constant => match args.expr(Key::Interval) {
            Some(e @ (Expr::Array(_) | Expr::Macro(_))) if is_list(e) => match elements(e) {
                Some(items) => {
                    let items = items.iter().map(|item| {
                        let secs = secs_of(&layer.k_at(item.span()), item);
                        hoist.value(item, secs.clone(), secs)
                    });
                    (quote!(#k::__private::Steps([#(#items),*])), zero)
                }
                // `vec![value; n]`: a list made once per call.
                None => (
                    quote!(#k::__private::Stored::new()),
                    quote!(#k::__private::Intervals::new(#e)),
                ),
            },
            Some(e) => {
                let secs = secs_of(&layer.k_at(e.span()), e);
                let secs = hoist.value(e, secs.clone(), secs);
                (quote!(#k::__private::Constant::new(#secs)), quote!(()))
            }
            None => (
                quote!(#k::__private::Constant::new(#k::__private::secs(1))),
                quote!(()),
            ),
        },
        Gen::Decay => {
            let init = param(Key::InitialValue, quote!(1), secs_of);
            let factor = param(Key::DecayFactor, quote!(1), f64_of);
            let min = match args.expr(Key::MinValue) {
                Some(e) => {
                    let secs = quote!(#k::__private::secs(#e));
                    some(hoist.value(e, secs.clone(), secs))
                }
                None => none(),
            };
            (quote!(#k::__private::decay(#init, #factor, #min)), zero)
        }
        Gen::Runtime => (quote!(#k::__private::Stored::new()), runtime(layer)),
        Gen::Custom => (
            quote!(#k::__private::Stored::new()),
            match (args.expr(Key::Wait), layer.ret_ty) {
                // Checked where it is written: a value that is no generator is reported on
                // it, not on the attribute.
                (Some(e), Some(ty)) => {
                    let kc = layer.k_at(e.span());
                    quote_spanned!(e.span()=> #kc::__private::custom_wait::<#ty, _>(#e))
                }
                (Some(e), None) => e.to_token_stream(),
                (None, _) => quote!(()),
            },
        ),
    }
}

fn is_list(e: &Expr) -> bool {
    match e {
        Expr::Array(_) => true,
        Expr::Macro(m) => m.mac.path.is_ident("vec"),
        _ => false,
    }
}

/// The items of `[a, b]` or `vec![a, b]`; `None` for `vec![a; n]`.
fn elements(e: &Expr) -> Option<Vec<Expr>> {
    match e {
        Expr::Array(a) => Some(a.elems.iter().cloned().collect()),
        Expr::Macro(m) => m
            .mac
            .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            .ok()
            .map(|items| items.into_iter().collect()),
        _ => None,
    }
}

/// `max_value` of `expo` and `fibo`: its expression and `secs(..)` of it; it also caps
/// `retry_after`.
pub(crate) fn max_value<'a>(layer: &'a Layer) -> Option<(&'a Expr, TokenStream)> {
    let k = &layer.k;
    match layer.args.expr(Key::MaxValue) {
        Some(e) if matches!(layer.args.gen_kind(), Gen::Expo | Gen::Fibo) => {
            Some((e, quote!(#k::__private::secs(#e))))
        }
        _ => None,
    }
}

/// `runtime(value = ...)`: the closure gets the error (error mode) or the outcome, with its
/// type named so that a closure's argument type is known.
fn runtime(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let value = match layer.args.expr(Key::Value) {
        Some(e) => e.to_token_stream(),
        None => quote!(|_| ::core::option::Option::None::<u64>),
    };
    let span = value.span();
    match (layer.error_mode(), layer.ret_ty) {
        (true, Some(ty)) => quote_spanned! {span=>
            #k::__private::OnErr(#k::__private::runtime::<<#ty as #k::__private::IsResult>::Err, _, _>(#value))
        },
        (true, None) => quote!(#k::__private::OnErr(#k::__private::Runtime(#value))),
        (false, Some(ty)) => quote_spanned! {span=>
            #k::__private::runtime::<#ty, _, _>(#value)
        },
        (false, None) => quote!(#k::__private::Runtime(#value)),
    }
}
