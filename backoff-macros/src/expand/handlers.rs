//! The `on_success`, `on_backoff` and `on_giveup` handlers, called in order after the
//! decision, each with `&Details` made for it alone.
//!
//! A handler that returns `()` runs with no `.await`, and no `Details` (which borrows the
//! outcome) is alive across any `.await`: the future stays `Send` when the outcome is `Send`
//! but not `Sync`. Only an async handler holds its `Details` while it runs.
//!
//! - a closure `|d| ...` is sync: it must return `()` (so `|_| todo!()` needs no annotation);
//! - `async |d| ...` and `|d| async { ... }` are async: awaited while their `Details` lives,
//!   which the expansion keeps (the closure's lifetimes are the caller's, not higher-ranked:
//!   its future stays `Send`);
//! - any other expression (a fn path, a call making a handler), and a closure whose argument
//!   is typed, is sorted by its type ([`kinds`]): a `Fn(&Details<'_, R>)` runs at once, an
//!   `AsyncFn(&Details<'_, R>)` (in an async fn) is awaited, and anything else is one error
//!   on the handler, saying what a handler of this fn takes.
//!
//! A closure whose argument is not typed takes its type from where it is passed, the
//! runtime's `call_handler` and `handler`; what can go wrong with it is in its body, where
//! rustc reports it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprClosure, Pat};

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

/// How a handler is called.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    /// A closure with its argument untyped: passed where its type is known.
    Untyped,
    /// Sorted by its type into sync, async or none ([`kinds`]): a fn path, a call making a
    /// handler, a sync closure with its argument typed.
    ByType,
    /// An async closure with its argument typed: sorted into async or none.
    AsyncClosure,
}

fn how(layer: &Layer, handler: &Expr) -> Call {
    match handler {
        Expr::Closure(c) if !typed(c) => Call::Untyped,
        Expr::Closure(_) if layer.is_async && is_async_handler(handler) => Call::AsyncClosure,
        _ => Call::ByType,
    }
}

/// `|d: &Details<'_, R>| ...`: a closure whose type is known without an expected type.
fn typed(c: &ExprClosure) -> bool {
    !c.inputs.is_empty() && c.inputs.iter().all(|p| matches!(p, Pat::Type(_)))
}

/// What sorts the handlers by type, once per fn (for all its layers): one trait per kind of
/// handler, each implemented for `(&Details<'_, R>, &F)` behind as many references as its
/// rank, so that a method call on `&&&(&details, &handler)` (`&&` in a sync fn) picks the
/// first kind the handler is (autoref specialisation):
///
/// - a sync handler, `F: FnOnce(&Details<'_, R>)`: `SyncTag`, which calls it at once;
/// - in an async fn, an async one, `F: AsyncFnOnce(&Details<'_, R>)`: `AsyncTag`, awaited
///   (an async closure with its argument typed: `FnOnce(&Details<'_, R>) -> impl Future`,
///   called through `__BackoffAsyncClosure`, its lifetimes the caller's);
/// - anything else: no handler of this fn. Its method takes the handler as a
///   `&dyn Fn(&Details<'_, R>)`, so rustc reports the one mismatch on the handler, with the
///   fn's own outcome type: "expected function signature
///   `fn(&Details<'_, Result<(), ApiError>>)`, found `fn(&ApiError)`", or "expected
///   `notify` to return `()`". Its `run` does nothing: the crate does not compile.
///
/// The types are in the receiver, so the kind is known before the handler is looked at: a
/// handler of another outcome type is no handler, not a sync one called with the wrong
/// details. Empty when no handler is sorted by type.
pub(crate) fn kinds(layers: &[Layer]) -> TokenStream {
    let calls: Vec<Call> = layers
        .iter()
        .flat_map(|layer| {
            [Key::OnSuccess, Key::OnBackoff, Key::OnGiveup]
                .iter()
                .flat_map(|key| layer.args.handlers(*key))
                .map(|h| how(layer, h))
        })
        .collect();
    // Every layer has the fn's asyncness; the first names the crate.
    let Some(layer) = layers.first() else {
        return TokenStream::new();
    };
    let by_type = calls.contains(&Call::ByType);
    let async_closure = calls.contains(&Call::AsyncClosure);
    if !by_type && !async_closure {
        return TokenStream::new();
    }
    let k = &layer.k;
    let details = quote!(#k::__private::Details);
    let sized = quote!(?::core::marker::Sized);
    let mut out = TokenStream::new();
    if by_type {
        let sync_rank = if layer.is_async {
            quote!(&&)
        } else {
            quote!(&)
        };
        out.extend(quote! {
            trait __BackoffSyncHandler {
                fn __backoff_handler_kind<H: #sized>(&self, _: &H) -> #k::__private::SyncTag {
                    #k::__private::SyncTag
                }
            }
            impl<'x, R: #sized, F: ::core::ops::FnOnce(&#details<'x, R>)> __BackoffSyncHandler
                for #sync_rank(&#details<'x, R>, &F) {}
        });
        if layer.is_async {
            out.extend(quote! {
                trait __BackoffAsyncHandler {
                    fn __backoff_handler_kind<H: #sized>(&self, _: &H) -> #k::__private::AsyncTag {
                        #k::__private::AsyncTag
                    }
                }
                impl<'x, R: #sized, F: #k::__private::AsyncHandlerFn<'x, R>> __BackoffAsyncHandler
                    for &(&#details<'x, R>, &F) {}
            });
        }
        out.extend(quote! {
            trait __BackoffNoHandler<'x, R: #sized> {
                fn __backoff_handler_kind(
                    &self,
                    _: &dyn ::core::ops::Fn(&#details<'x, R>),
                ) -> __BackoffNoHandlerTag {
                    __BackoffNoHandlerTag
                }
            }
            impl<'x, R: #sized, F> __BackoffNoHandler<'x, R> for (&#details<'x, R>, &F) {}
        });
    }
    if async_closure {
        out.extend(quote! {
            trait __BackoffAsyncClosure {
                fn __backoff_closure_kind<H: #sized>(&self, _: &H) -> __BackoffAsyncClosureTag {
                    __BackoffAsyncClosureTag
                }
            }
            impl<'d, 'x, R: #sized, F, O> __BackoffAsyncClosure for &(&'d #details<'x, R>, &F)
            where
                F: ::core::ops::FnOnce(&'d #details<'x, R>) -> O,
                O: ::core::future::Future<Output = ()>,
            {}
            struct __BackoffAsyncClosureTag;
            impl __BackoffAsyncClosureTag {
                fn run<'d, 'x, R: #sized, F, O>(self, details: &'d #details<'x, R>, f: F) -> O
                where
                    F: ::core::ops::FnOnce(&'d #details<'x, R>) -> O,
                {
                    f(details)
                }
            }
            trait __BackoffNoClosure<'x, R: #sized> {
                fn __backoff_closure_kind(
                    &self,
                    _: &dyn ::core::ops::Fn(&#details<'x, R>),
                ) -> __BackoffNoHandlerTag {
                    __BackoffNoHandlerTag
                }
            }
            impl<'x, R: #sized, F> __BackoffNoClosure<'x, R> for (&#details<'x, R>, &F) {}
        });
    }
    out.extend(quote! {
        struct __BackoffNoHandlerTag;
        impl __BackoffNoHandlerTag {
            fn run<A, B>(self, _: A, _: B) -> ::core::future::Ready<()> {
                ::core::future::ready(())
            }
        }
    });
    out
}

fn call(layer: &Layer, h: &Expr, details: &TokenStream) -> TokenStream {
    // Errors about a handler point at the handler.
    let span = h.span();
    let k = layer.k_at(span);
    // Located at the handler, so that a type error about them is reported there.
    let at = |name: &str| {
        let mut ident = local(name);
        ident.set_span(ident.span().located_at(span));
        ident
    };
    let handler = at("handler");
    let details_local = at("details");
    match how(layer, h) {
        Call::Untyped if layer.is_async && is_async_handler(h) => {
            // Typed `()` here rather than by a bound: a future of another output is
            // reported on the handler as "expected `()`, found ...".
            quote_spanned! {span=>
                let #details_local = #details;
                let _: () = #k::__private::handler(&#details_local, #h).await;
            }
        }
        Call::Untyped => quote_spanned!(span=> #k::__private::call_handler(#details, #h);),
        Call::AsyncClosure => {
            let details = &respan(details.clone(), span);
            quote_spanned! {span=>
                let #details_local = #details;
                let #handler = #h;
                (&&(&#details_local, &#handler))
                    .__backoff_closure_kind(&#handler)
                    .run(&#details_local, #handler)
                    .await;
            }
        }
        Call::ByType => {
            let details = &respan(details.clone(), span);
            let rank = if layer.is_async {
                quote_spanned!(span=> &&&)
            } else {
                quote_spanned!(span=> &&)
            };
            let kind = quote_spanned! {span=>
                let #handler = #h;
                let #details_local = #details;
                (#rank(&#details_local, &#handler))
                    .__backoff_handler_kind(&#handler)
                    .run(#k::__private::Handler(#handler), #details_local)
            };
            if layer.is_async {
                let run = at("run");
                quote_spanned! {span=>
                    let #run = { #kind };
                    #run.await;
                }
            } else {
                // A sync handler has run when its (ready) future is made.
                quote_spanned! {span=>
                    #[allow(clippy::let_underscore_future)]
                    let _ = { #kind };
                }
            }
        }
    }
}
