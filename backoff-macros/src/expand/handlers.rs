//! The `on_success`, `on_backoff` and `on_giveup` handlers, called in order after the
//! decision, each with `&Details` made for it alone.
//!
//! A handler that returns `()` runs with no `.await`, and no `Details` (which borrows the
//! outcome) is alive across any `.await`: the future stays `Send` when the outcome is `Send`
//! but not `Sync`. Only an async handler holds its `Details` while it runs.
//!
//! - a closure `|d| ...` is sync: it must return `()` (so `|_| todo!()` needs no annotation);
//! - `async |d| ...` and `|d| async { ... }` are async: awaited while their `Details` lives;
//! - any other expression (a fn path, a call making a handler) is sorted by its type: a
//!   `Fn(&Details<'_, R>)` runs at once, an `AsyncFn(&Details<'_, R>)` is awaited.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use super::{Layer, local, respan};
use crate::attr::Key;

/// Whether a handler is async by its syntax: `async |d| ...`, `|d| async { ... }`, or an
/// `async` block (which is no handler at all; the type error says so).
pub(crate) fn is_async_handler(handler: &Expr) -> bool {
    match handler {
        Expr::Closure(c) => c.asyncness.is_some() || matches!(&*c.body, Expr::Async(_)),
        Expr::Async(_) => true,
        _ => false,
    }
}

/// The calls of one list of handlers; `wait` is the `Details::wait` they see.
pub(crate) fn handlers(layer: &Layer, key: Key, wait: &TokenStream) -> TokenStream {
    let state = local("state");
    let outcome = local("outcome");
    let elapsed = local("elapsed");
    let name = layer.sig.ident.to_string();
    let details = quote!(#state.details(#name, &#outcome, #elapsed, #wait));
    layer
        .args
        .handlers(key)
        .iter()
        .map(|h| call(layer, h, &details))
        .collect()
}

fn call(layer: &Layer, h: &Expr, details: &TokenStream) -> TokenStream {
    // Errors about a handler point at the handler.
    let span = h.span();
    let k = layer.k_at(span);
    match h {
        Expr::Closure(_) if layer.is_async && is_async_handler(h) => {
            let details_local = local("details");
            quote_spanned! {span=>
                let #details_local = #details;
                #k::__private::async_closure_handler(&#details_local, #h).await;
            }
        }
        Expr::Closure(_) => quote_spanned!(span=> #k::__private::call_handler(#details, #h);),
        _ if layer.is_async => {
            // Located at the handler, so that a type error about them is reported there.
            let at = |name: &str| {
                let mut ident = local(name);
                ident.set_span(ident.span().located_at(span));
                ident
            };
            let handler = at("handler");
            let details_local = at("details");
            let run = at("run");
            let details = &respan(details.clone(), span);
            quote_spanned! {span=>
                let #run = {
                    #[allow(unused_imports)]
                    use #k::__private::{AsyncHandlerKind as _, SyncHandlerKind as _};
                    let #handler = #k::__private::Handler(#h);
                    let #details_local = #details;
                    (&#handler)
                        .__backoff_handler_kind(&#details_local)
                        .run(#handler, #details_local)
                };
                #run.await;
            }
        }
        _ => quote_spanned! {span=>
            #k::__private::sync_handler(#k::__private::handler(&#details, #h));
        },
    }
}
