//! The wait generator, evaluated once per call.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::{Layer, none, some};
use crate::attr::{Gen, Key};

/// `Expo::new(..)`, `Fibo::new(..)`, `Intervals::new([..])`…: the `Wait` of this layer.
pub(crate) fn wait(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let args = layer.args;
    let param = |key: Key, default: TokenStream| -> TokenStream {
        args.expr(key).map_or(default, ToTokens::to_token_stream)
    };
    match args.gen_kind() {
        Gen::Expo => {
            let base = param(Key::Base, quote!(2));
            let factor = param(Key::Factor, quote!(1));
            let max = max_value(layer).unwrap_or_else(none);
            quote!(#k::__private::expo(#base, #factor, #max))
        }
        Gen::Fibo => {
            let max = max_value(layer).unwrap_or_else(none);
            quote!(#k::__private::Fibo::new(#max))
        }
        Gen::Constant => match args.expr(Key::Interval) {
            Some(e @ (Expr::Array(_) | Expr::Macro(_))) if is_list(e) => {
                quote!(#k::__private::Intervals::new(#e))
            }
            Some(e) => quote!(#k::__private::Constant::new(#k::__private::secs(#e))),
            None => quote!(#k::__private::Constant::new(#k::__private::secs(1))),
        },
        Gen::Decay => {
            let init = param(Key::InitialValue, quote!(1));
            let factor = param(Key::DecayFactor, quote!(1));
            let min = match args.expr(Key::MinValue) {
                Some(e) => some(quote!(#k::__private::secs(#e))),
                None => none(),
            };
            quote!(#k::__private::decay(#init, #factor, #min))
        }
        Gen::Runtime => runtime(layer),
        Gen::Custom => param(Key::Wait, quote!(())),
    }
}

fn is_list(e: &Expr) -> bool {
    match e {
        Expr::Array(_) => true,
        Expr::Macro(m) => m.mac.path.is_ident("vec"),
        _ => false,
    }
}

/// `max_value` of `expo` and `fibo`, as `Option<Duration>`; it also caps `retry_after`.
pub(crate) fn max_value(layer: &Layer) -> Option<TokenStream> {
    let k = &layer.k;
    match layer.args.expr(Key::MaxValue) {
        Some(e) if matches!(layer.args.gen_kind(), Gen::Expo | Gen::Fibo) => {
            Some(some(quote!(#k::__private::secs(#e))))
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
