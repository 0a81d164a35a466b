//! The loop: pace, attempt, judge, decide, handlers, sleep.

use quote::quote;
use syn::Block;

use super::{Layer, local};
use crate::attr::Key;

/// The body of one layer: a retry loop around `block`.
pub(crate) fn retry_loop(layer: &Layer, block: &Block) -> Block {
    let k = &layer.k;
    let [state, outcome, elapsed, action, wait] =
        ["state", "outcome", "elapsed", "action", "wait"].map(local);
    let mut hoist = super::policy::Hoist::default();
    let (rules, budget) = super::policy::rules(layer, &mut hoist);
    let jitter = super::policy::jitter(layer, &mut hoist);
    let (schedule, progress) = super::wait::wait(layer, &mut hoist);
    let once = &hoist.lets;
    // Time queued for a pacer is kept only by a paced run.
    let queue = if layer.args.paces() {
        quote!(#k::__private::Queued)
    } else {
        quote!(#k::__private::Unpaced)
    };
    let pacer = super::pace::pacer(layer);
    let pace = super::pace::pace(layer);
    let observe = super::pace::observe(layer);
    let (start, read_elapsed) = super::sleep::clock(layer);
    let attempt = super::attempt::attempt(layer, block);
    let verdict = super::judge::verdict(layer);
    let hint = super::judge::hint(layer);
    let handlers = super::handlers::handlers;
    let on_backoff = handlers(layer, Key::OnBackoff, &super::some(&wait));
    let on_success = handlers(layer, Key::OnSuccess, &super::none());
    let on_giveup = handlers(layer, Key::OnGiveup, &super::none());
    let sleep = super::sleep::sleep(layer);
    let [verdict_l, line, of, f] = ["verdict", "line", "of", "f"].map(local);
    // A success (or an error to propagate) is settled before the outcome is lent to anything
    // and before the clock is read: a sync fn's outcome can then stay in registers and be
    // returned from them. Lent on every path, it lives in memory, and returning it is a wide
    // load of the attempt's two narrow stores, which the CPU cannot forward (measured: 6 ns
    // on a 2 ns call).
    let settled = if on_success.is_empty() {
        quote!(return #outcome;)
    } else {
        quote! {
            if #verdict_l == #k::__private::Verdict::Success {
                let #elapsed = #read_elapsed;
                #on_success
            }
            return #outcome;
        }
    };
    // The verdict lives in a block of its own, dead before any handler is awaited (an async
    // fn's future would keep it otherwise).
    let settle = quote! {
        let #verdict_l = #verdict;
        if #state.settle(#budget, #verdict_l) {
            #settled
        }
    };
    let rules_and_schedule = quote!(|| (#rules, #schedule));
    let use_describe = quote! {
        #[allow(unused_imports)]
        use #k::__private::{ViaDebug as _, ViaOpaque as _};
    };
    // A failure. With no `on_backoff` or `on_giveup` handler to read the outcome afterwards,
    // a sync fn decides it inline (`fail_later`) and gets its log line back unwritten: the
    // line is written by `Line::emit`, which takes the outcome by value and hands it back, so
    // that the outcome is lent to no call and can stay in registers (and an outcome an opaque
    // body wrote to memory is passed by its address, not copied). With such a handler, a sync
    // fn decides out of line (`failed`), lending the outcome. An async fn decides inline
    // (`fail`): its outcome comes out of the attempt's future through memory anyway.
    let owned = !layer.is_async && on_backoff.is_empty() && on_giveup.is_empty();
    let failed = if owned {
        quote! {
            #[allow(clippy::needless_update)]
            let (#action, #line) = {
                #settle
                #state.fail_later(
                    #rules_and_schedule,
                    #jitter,
                    &#outcome,
                    #verdict_l,
                    || #read_elapsed,
                    |#of| #hint,
                )
            };
            if let ::core::option::Option::Some(#line) = #line {
                #use_describe
                #outcome = #line.emit(#outcome, |#of, #f| {
                    ::core::fmt::Display::fmt(&(&#k::__private::Describe(#of)).__backoff_describe(), #f)
                });
            }
            match #action {
                #k::__private::Action::Backoff(#wait) => #wait,
                _ => return #outcome,
            }
        }
    } else {
        // The handlers' details need the time, so it is read here for both.
        let (decide, elapsed_arg) = if layer.is_async {
            (quote!(fail), quote!(|| #elapsed))
        } else {
            (quote!(failed), quote!(#elapsed))
        };
        quote! {
            #[allow(clippy::needless_update)]
            let (#elapsed, #action) = {
                #settle
                let #elapsed = #read_elapsed;
                #use_describe
                let #action = #state.#decide(
                    #rules_and_schedule,
                    #jitter,
                    &#outcome,
                    #verdict_l,
                    #elapsed_arg,
                    &(&#k::__private::Describe(&#outcome)).__backoff_describe(),
                    |#of| #hint,
                );
                (#elapsed, #action)
            };
            match #action {
                #k::__private::Action::Backoff(#wait) => {
                    #on_backoff
                    #wait
                }
                _ => {
                    #on_giveup
                    return #outcome;
                }
            }
        }
    };
    // Only the deferred log line reassigns the outcome (handing it back from `Line::emit`).
    let mutable = owned.then(|| quote!(mut));
    let body = quote! {{
        #once
        let mut #state = #k::__private::Run::<_, _, #queue>::new(#progress);
        #pacer
        #start
        loop {
            #pace
            let #wait = {
                let #mutable #outcome = #attempt;
                #observe
                #failed
            };
            #sleep
        }
    }};
    syn::parse2(body).unwrap_or_else(|e| {
        // Unreachable for well-formed input; report rather than panic.
        let err = e.to_compile_error();
        syn::parse_quote!({ #err })
    })
}
