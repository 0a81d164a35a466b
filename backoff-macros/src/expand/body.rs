//! The loop: pace, attempt, judge, decide, handlers, sleep.

use quote::quote;
use syn::Block;

use super::{Layer, local};
use crate::attr::Key;

/// The body of one layer: a retry loop around `block`.
pub(crate) fn retry_loop(layer: &Layer, block: &Block) -> Block {
    let k = &layer.k;
    let name = layer.sig.ident.to_string();
    let [state, policy, outcome, elapsed, action, wait] =
        ["state", "policy", "outcome", "elapsed", "action", "wait"].map(local);
    let wait_gen = super::wait::wait(layer);
    let policy_value = super::policy::policy(layer);
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
    let body = quote! {{
        #[allow(clippy::needless_update)]
        let #policy = #policy_value;
        let mut #state = #k::__private::State::new(#name, #wait_gen, #policy);
        #pacer
        #start
        loop {
            #pace
            let #wait = {
                let #outcome = #attempt;
                #observe
                let #elapsed = #read_elapsed;
                let #action = {
                    #[allow(unused_imports)]
                    use #k::__private::{ViaDebug as _, ViaOpaque as _};
                    #state.decide_with_hint(
                        &#outcome,
                        #verdict,
                        #elapsed,
                        &(&#k::__private::Describe(&#outcome)).__backoff_describe(),
                        || #hint,
                    )
                };
                match #action {
                    #k::__private::Action::Backoff(#wait) => {
                        #on_backoff
                        #wait
                    }
                    #k::__private::Action::Success => {
                        #on_success
                        return #outcome;
                    }
                    #k::__private::Action::GiveUp => {
                        #on_giveup
                        return #outcome;
                    }
                    #k::__private::Action::Propagate => return #outcome,
                }
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
