//! Pacing: wait for the pacer before every attempt, retries included; and, for a pacer that
//! learns (`rate = adaptive`, `pacer = ..., observe`), tell it how each attempt went.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Layer, local};
use crate::attr::{Key, Rate, Value};

/// The pacer of this call: a static one per fn for `rate = ...`, or the one `pacer = ...`
/// names. Empty when the layer does not pace.
pub(crate) fn pacer(layer: &Layer) -> TokenStream {
    let k = &layer.k;
    let pacer = local("pacer");
    let make = match layer.args.rate() {
        Some(Rate::Fixed { count, per_secs }) => {
            let burst = layer
                .args
                .expr(Key::Burst)
                .map_or_else(|| quote!(1u32), ToTokens::to_token_stream);
            let kc = layer.k_at(count.span());
            Some(quote! {
                #k::__private::Pacer::with_burst(
                    #kc::__private::ToF64::to_f64(#count),
                    ::core::time::Duration::from_secs(#per_secs),
                    #burst,
                )
            })
        }
        Some(Rate::Adaptive) => Some(quote!(#k::__private::Pacer::adaptive())),
        None => None,
    };
    if let Some(make) = make {
        return quote! {
            static __BACKOFF_PACER: #k::__private::OnceLock<#k::__private::Pacer> =
                #k::__private::OnceLock::new();
            let #pacer: &#k::__private::Pacer = __BACKOFF_PACER.get_or_init(|| { #make });
        };
    }
    match layer.args.expr(Key::Pacer) {
        Some(p) => {
            let kp = layer.k_at(p.span());
            // Bound first, so that `pacer = &self.pacer` (a temporary reference) lives on.
            // (The argument is located at the expression, where a type error then points.)
            let arg = proc_macro2::Ident::new(
                "__backoff_pacer",
                proc_macro2::Span::mixed_site().located_at(p.span()),
            );
            quote_spanned! {p.span()=>
                let #pacer = &#p;
                let #pacer: &#kp::__private::Pacer = #kp::__private::pacer(#arg);
            }
        }
        None => TokenStream::new(),
    }
}

/// The pace step at the top of each attempt: wait until the pacer lets it start. The key is
/// computed once for the pace and the observe steps, and the attempt's start is read on the
/// pacer's clock.
pub(crate) fn pace(layer: &Layer) -> TokenStream {
    if !layer.args.paces() {
        return TokenStream::new();
    }
    let pacer = local("pacer");
    let mut out = TokenStream::new();
    let key = match layer.args.expr(Key::RateKey) {
        Some(e) => {
            let k = layer.k_at(e.span());
            // Borrowed when the key is string-like; else formatted (a `String` per attempt).
            let read = quote_spanned! {e.span()=> {
                #[allow(unused_imports)]
                use #k::__private::{KeyViaDisplay as _, KeyViaStr as _};
                (&#k::__private::KeyArg(&#e)).__backoff_key()
            }};
            let key = local("key");
            out.extend(quote!(let #key = #read;));
            super::some(quote!(&*#key))
        }
        None => super::none(),
    };
    // Time queued for the pacer is not failure time: the state takes it off `elapsed`. Each
    // answer is told to the pacer (the observe step), so a fixed-rate pacer may hold an
    // attempt for the answer to a pause's first (it opens the connection).
    let (k, state, sent) = (&layer.k, local("state"), local("sent"));
    out.extend(if layer.is_async {
        quote!(#state.add_queued(#k::__private::ready_told(#pacer, #key).await);)
    } else {
        quote!(#state.add_queued(#k::__private::ready_blocking_told(#pacer, #key));)
    });
    out.extend(quote!(let #sent = #k::__private::Pacer::now();));
    out
}

/// The observe step, right after the attempt and before it is judged: the pacer learns from
/// the outcome (`politely::RateFeedback`), or from what `observe = |out| ...` makes of it.
/// Without `observe`, a paced layer tells the pacer only that the answer came.
pub(crate) fn observe(layer: &Layer) -> TokenStream {
    if !layer.args.paces() {
        return TokenStream::new();
    }
    let [pacer, outcome, sent] = ["pacer", "outcome", "sent"].map(local);
    let key = match layer.args.get(Key::RateKey) {
        Some(_) => {
            let key = local("key");
            super::some(quote!(&*#key))
        }
        None => super::none(),
    };
    if !layer.args.observes() {
        let k = &layer.k;
        return quote!(#k::__private::answered(#pacer, #key, #sent););
    }
    let feedback = match layer.args.get(Key::Observe).map(|g| &g.value) {
        Some(Value::Expr(f)) => {
            let k = layer.k_at(f.span());
            let ty = layer.ret_ty.map(ToTokens::to_token_stream);
            match super::typed_closure(f, ty, quote!(_)) {
                Some((bind, g)) => {
                    quote_spanned!(f.span()=> { #bind #k::__private::observe_with(&#outcome, #g) })
                }
                None => quote_spanned!(f.span()=> #k::__private::observe_with(&#outcome, #f)),
            }
        }
        _ => {
            let span = layer.ret_span();
            let k = layer.k_at(span);
            match layer.ret_ty {
                Some(ty) => quote_spanned!(span=> #k::__private::feedback_of::<#ty>(&#outcome)),
                None => quote_spanned!(span=> #k::__private::feedback_of(&#outcome)),
            }
        }
    };
    quote!(#pacer.observe(#key, &#feedback, #sent);)
}
