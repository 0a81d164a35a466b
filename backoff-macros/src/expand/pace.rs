//! Pacing: wait for the pacer before every attempt, retries included.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Layer, local};
use crate::attr::Key;

/// The pacer of this call: a static one per fn for `rate = ...`, or the one `pacer = ...`
/// names. Empty when the layer does not pace.
pub(crate) fn pacer(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let pacer = local("pacer");
    if let Some(rate) = layer.args.rate() {
        let count = &rate.count;
        let per = rate.per_secs;
        let burst = layer
            .args
            .expr(Key::Burst)
            .map_or_else(|| quote!(1u32), ToTokens::to_token_stream);
        let kc = layer.k_at(count.span());
        return quote! {
            static __BACKOFF_PACER: #k::__private::OnceLock<#k::__private::Pacer> =
                #k::__private::OnceLock::new();
            let #pacer: &#k::__private::Pacer = __BACKOFF_PACER.get_or_init(|| {
                #k::__private::Pacer::with_burst(
                    #kc::__private::ToF64::to_f64(#count),
                    ::core::time::Duration::from_secs(#per),
                    #burst,
                )
            });
        };
    }
    match layer.args.expr(Key::Pacer) {
        Some(p) => {
            let kp = layer.k_at(p.span());
            quote_spanned!(p.span()=> let #pacer: &#kp::__private::Pacer = #kp::__private::pacer(&#p);)
        }
        None => TokenStream::new(),
    }
}

/// The pace step at the top of each attempt: wait until the pacer lets it start.
pub(crate) fn pace(layer: &Layer) -> TokenStream {
    if layer.args.rate().is_none() && layer.args.get(Key::Pacer).is_none() {
        return TokenStream::new();
    }
    let pacer = local("pacer");
    let key = match layer.args.expr(Key::RateKey) {
        Some(e) => {
            let k = layer.k_at(e.span());
            quote_spanned! {e.span()=>
                ::core::option::Option::Some(#k::__private::pace_key(&#e).as_str())
            }
        }
        None => super::none(),
    };
    // Time queued for the pacer is not failure time: the state takes it off `elapsed`.
    let state = local("state");
    if layer.is_async {
        quote!(#state.add_queued(#pacer.ready(#key).await);)
    } else {
        quote!(#state.add_queued(#pacer.ready_blocking(#key));)
    }
}
