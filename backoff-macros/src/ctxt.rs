//! Error collection: every error of an attribute is reported at once, each spanned on the
//! token at fault (serde_derive's `internals/ctxt.rs`).

use proc_macro2::Span;
use quote::ToTokens;

/// Collects errors in the order a reader meets them: each is filed under a position (an
/// argument's index, then the checks that span several arguments, then the fn's own), and
/// [`Ctxt::check`] reports them sorted by it, whichever step found them.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<(usize, syn::Error)>,
    at: usize,
}

impl Ctxt {
    /// Files the next errors under `position`.
    pub(crate) fn at(&mut self, position: usize) {
        self.at = position;
    }

    pub(crate) fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// An error spanned on all of `tokens` (e.g. `-5`, not just `-`).
    pub(crate) fn error_spanned(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub(crate) fn push(&mut self, err: syn::Error) {
        self.errors.push((self.at, err));
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// All errors, combined in reading order.
    pub(crate) fn check(mut self) -> Result<(), syn::Error> {
        self.errors.sort_by_key(|(at, _)| *at);
        let mut errors = self.errors.into_iter().map(|(_, e)| e);
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                first.extend(errors);
                Err(first)
            }
        }
    }
}
