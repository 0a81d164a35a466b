//! The judgement of an outcome, and what it says about the next wait (`retry_after`).

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;

use super::{Judge, Layer, local};
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
                arms.push(quote_spanned! {g.span()=>
                    ::core::result::Result::Err(#error) if #k::__private::giveup(#error, #g) => {
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
            quote_spanned! {p.span()=>
                match #as_result(&#outcome) {
                    ::core::result::Result::Ok(#value) => {
                        #k::__private::judge_predicate(#k::__private::predicate(#value, #p))
                    }
                    ::core::result::Result::Err(_) => #k::__private::Verdict::Propagate,
                }
            }
        }
        Judge::Whole(p) => {
            let k = layer.k_at(p.span());
            quote_spanned! {p.span()=>
                #k::__private::judge_predicate(#k::__private::predicate(&#outcome, #p))
            }
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
    if layer.error_mode() {
        let as_result = layer.as_result();
        quote_spanned! {f.span()=>
            match #as_result(#of) {
                ::core::result::Result::Err(#error) => #k::__private::retry_after(#error, #f),
                ::core::result::Result::Ok(_) => ::core::option::Option::None,
            }
        }
    } else {
        quote_spanned!(f.span()=> #k::__private::retry_after(#of, #f))
    }
}
