//! The `#[backoff(...)]` attribute. Use it through the `politely` crate, which documents it in
//! full: `use politely::backoff;`.
//!
//! The crate reads as its pipeline: `attr` parses the arguments (one table of names,
//! typed values), `valid` checks them against each other and the fn, and `expand`
//! writes the retry loop, one generator per concern. Errors are collected by `ctxt` and
//! reported together, each on the token at fault, in front of the unchanged item.

mod attr;
mod ctxt;
mod expand;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Rewrites an `async fn` or a plain `fn` into a retry loop with Python `backoff`'s semantics.
/// See the `politely` crate for the arguments.
#[proc_macro_attribute]
pub fn backoff(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
