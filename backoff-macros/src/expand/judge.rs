//! The judgement of an outcome, and what it says about the next wait (`retry_after`).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Judge, Layer, local, typed_closure};
use crate::attr::Key;

/// A `Verdict` of `__backoff_outcome`.
pub(crate) fn verdict(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let outcome = local("outcome");
    let error = local("error");
    match layer.judge {
        Judge::Error(pattern) => {
            // Errors outside the pattern propagate; `giveup` ends the run on the rest.
            let mut arms = Vec::new();
            if let Some(p) = pattern {
                arms.push(quote_spanned! {p.span()=>
                    ::core::result::Result::Err(#error) if !::core::matches!(#error, #p) => {
                        #k::__private::Verdict::Propagate
                    }
                });
            }
            if let Some(g) = layer.args.expr(Key::Giveup) {
                let kg = layer.k_at(g.span());
                let gives_up = match typed_closure(g, layer.err_ty(), quote!(bool)) {
                    Some((bind, f)) => {
                        quote_spanned!(g.span()=> { #bind #kg::__private::giveup(#error, #f) })
                    }
                    None => quote_spanned!(g.span()=> #kg::__private::giveup(#error, #g)),
                };
                arms.push(quote_spanned! {g.span()=>
                    ::core::result::Result::Err(#error) if #gives_up => {
                        #k::__private::Verdict::GiveUp
                    }
                });
            }
            let as_result = layer.as_result();
            quote_spanned! {layer.ret_span()=>
                match #as_result(&#outcome) {
                    ::core::result::Result::Ok(_) => #k::__private::Verdict::Success,
                    #(#arms)*
                    ::core::result::Result::Err(_) => #k::__private::Verdict::Retry,
                }
            }
        }
        Judge::OkValue(p) => {
            let k = layer.k_at(p.span());
            let value = local("value");
            let as_result = layer.as_result();
            let judged = predicate(layer, p, layer.ok_ty(), quote!(#value));
            quote_spanned! {p.span()=>
                match #as_result(&#outcome) {
                    ::core::result::Result::Ok(#value) => #k::__private::judge_predicate(#judged),
                    ::core::result::Result::Err(_) => #k::__private::Verdict::Propagate,
                }
            }
        }
        Judge::Whole(p) => {
            let k = layer.k_at(p.span());
            let ty = layer.ret_ty.map(ToTokens::to_token_stream);
            let judged = predicate(layer, p, ty, quote!(&#outcome));
            quote_spanned!(p.span()=> #k::__private::judge_predicate(#judged))
        }
        Judge::Default => {
            let span = layer.ret_span();
            let ka = layer.k_at(span);
            match layer.ret_ty {
                Some(ty) => quote_spanned!(span=> #ka::__private::judge_default::<#ty>(&#outcome)),
                None => quote_spanned!(span=> #ka::__private::judge_default(&#outcome)),
            }
        }
    }
}

/// `predicate(of, p)`: `p` called with `of`, of type `&receives`.
fn predicate(
    layer: &Layer,
    p: &syn::Expr,
    receives: Option<TokenStream>,
    of: TokenStream,
) -> TokenStream {
    let k = layer.k_at(p.span());
    match typed_closure(p, receives, quote!(bool)) {
        Some((bind, f)) => quote_spanned!(p.span()=> { #bind #k::__private::predicate(#of, #f) }),
        None => quote_spanned!(p.span()=> #k::__private::predicate(#of, #p)),
    }
}

/// `retry_after = ...`: the server's wait, read from the error (or the value) only when the
/// run goes on.
pub(crate) fn hint(layer: &Layer) -> TokenStream {
    // `__backoff_of` is `&outcome`, the hint closure's argument.
    let of = local("of");
    let error = local("error");
    let Some(f) = layer.args.expr(Key::RetryAfter) else {
        return super::none();
    };
    let k = layer.k_at(f.span());
    // Called with the error in error mode, else with the whole outcome.
    let (receives, arg) = if layer.error_mode() {
        (layer.err_ty(), quote!(#error))
    } else {
        (layer.ret_ty.map(ToTokens::to_token_stream), quote!(#of))
    };
    let read = match typed_closure(f, receives, quote!(::core::option::Option<_>)) {
        Some((bind, g)) => {
            quote_spanned!(f.span()=> { #bind #k::__private::retry_after(#arg, #g) })
        }
        None => quote_spanned!(f.span()=> #k::__private::retry_after(#arg, #f)),
    };
    if layer.error_mode() {
        let as_result = layer.as_result();
        quote_spanned! {f.span()=>
            match #as_result(#of) {
                ::core::result::Result::Err(#error) => #read,
                ::core::result::Result::Ok(_) => ::core::option::Option::None,
            }
        }
    } else {
        read
    }
}
