//! The clock and the sleep: tokio's (async) or the thread's (sync) unless `clock = ...` and
//! `sleep = ...` say otherwise.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Layer, local};
use crate::attr::Key;

/// The sleep statement after an `on_backoff`, for `__backoff_wait`.
pub(crate) fn sleep(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let wait = local("wait");
    match (layer.args.expr(Key::Sleep), layer.is_async) {
        (Some(s), true) => {
            let k = layer.k_at(s.span());
            quote_spanned!(s.span()=> #k::__private::sleep_async(#s, #wait).await;)
        }
        (Some(s), false) => {
            let k = layer.k_at(s.span());
            quote_spanned!(s.span()=> #k::__private::call_sleep(#s, #wait);)
        }
        (None, true) => {
            // Spanned on the fn's name: without tokio, the error is about this fn.
            let k = layer.k_at(layer.sig.ident.span());
            quote_spanned!(layer.sig.ident.span()=> #k::__private::async_sleep(#wait).await;)
        }
        (None, false) => quote!(#k::__private::sync_sleep(#wait);),
    }
}

/// `(start, elapsed)`: the statement that reads the clock when the run starts, and the
/// expression of the time since. Elapsed time is read only by `max_time` and by handlers;
/// without either, the clock is never read (two clock reads are most of the cost of a
/// first-try success).
pub(crate) fn clock(layer: &Layer) -> (TokenStream, TokenStream) {
    let k = &layer.k;
    let args = layer.args;
    let start = local("start");
    let (read_start, read_elapsed) = match args.expr(Key::Clock) {
        // A clock of the wrong type is reported on `clock = ...`.
        Some(c) => {
            let kc = layer.k_at(c.span());
            (
                quote_spanned!(c.span()=> let #start = #kc::__private::call0(#c);),
                quote_spanned!(c.span()=> #kc::__private::elapsed(&#start, #kc::__private::call0(#c))),
            )
        }
        None => {
            let now = if layer.is_async {
                quote!(#k::__private::async_now())
            } else {
                quote!(#k::__private::sync_now())
            };
            (
                quote!(let #start = #now;),
                quote!(#k::__private::elapsed(&#start, #now)),
            )
        }
    };
    if args.get(Key::MaxTime).is_none() && !args.has_handlers() {
        // A `clock = ...` that nothing reads is still type-checked, by the same reads in a
        // closure never called, so that a wrong one is not found only once `max_time` is
        // added.
        let check = args.expr(Key::Clock).map(|_| {
            quote! {
                let _ = || {
                    #read_start
                    #read_elapsed
                };
            }
        });
        return (
            check.unwrap_or_default(),
            quote!(::core::time::Duration::ZERO),
        );
    }
    (read_start, read_elapsed)
}
