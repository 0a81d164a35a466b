//! One attempt: the original body, run afresh each time, with its own copy of the arguments.
//!
//! The copies are made before the attempt's `async move` block (or `move` closure), which
//! then owns them: the caller's future never holds `&arg` across an `.await`, so it is `Send`
//! whenever the arguments are `Send` (a `Cell` or a `RefCell` argument included).

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, FnArg, Ident, ItemFn, Pat, PatIdent, ReceiverKind, Signature, Type};

use super::{Layer, local};

/// `{ copies; async move { body } }.await`, or `{ copies; move || { body } }()` in a sync fn.
pub(crate) fn attempt(layer: &Layer, block: &Block) -> TokenStream {
    let copies = copies(layer, block);
    let fake_return = layer.ret_ty.map(|ty| {
        let fake = local("fake_return");
        // Tells inference the block's type, as the fn's own `return` would.
        quote! {
            #[allow(unknown_lints, unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::let_unit_value)]
            if false {
                let #fake: #ty = loop {};
                return #fake;
            }
        }
    });
    let stmts = &block.stmts;
    if layer.is_async {
        quote!({ #copies async move { #fake_return #(#stmts)* } }.await)
    } else {
        quote!({
            #copies
            #[allow(clippy::redundant_closure_call)]
            (move || { #fake_return #(#stmts)* })()
        })
    }
}

/// For each argument the body names: an owned one is cloned (`CloneArg`, whose error
/// points at the argument), a `&mut` one reborrowed, a `&` one copied by the `move`.
/// Arguments the body never names (used only by the attribute, or not at all) are neither
/// copied nor required to be `Clone`.
fn copies(layer: &Layer, block: &Block) -> TokenStream {
    let k = &layer.k;
    let mut named = HashSet::new();
    uses(block.to_token_stream(), &mut named);
    let mut out = TokenStream::new();
    for arg in &layer.sig.inputs {
        match arg {
            FnArg::Receiver(r) => {
                if !named.contains("__backoff_self") {
                    continue;
                }
                let this = self_ident();
                let span = r.self_token.span;
                let by_ref = match &r.kind {
                    ReceiverKind::Reference(_, _, m) => Some(m.is_some()),
                    ReceiverKind::Typed(_, ty) => match &**ty {
                        Type::Reference(t) => Some(t.mutability.is_some()),
                        Type::Path(p)
                            if p.path.segments.last().is_some_and(|s| s.ident == "Pin") =>
                        {
                            out.extend(quote_spanned!(span=> let #this = self.as_mut();));
                            continue;
                        }
                        _ => None,
                    },
                    _ => None,
                };
                out.extend(match by_ref {
                    None => {
                        let mutability = &r.mutability;
                        quote_spanned! {span=>
                            #[allow(unused_mut)]
                            let #mutability #this = #k::__private::CloneArg::clone_arg(&self);
                        }
                    }
                    Some(true) => quote_spanned!(span=> let #this = &mut *self;),
                    Some(false) => quote_spanned!(span=> let #this = self;),
                });
            }
            FnArg::Typed(pt) => {
                let Pat::Ident(PatIdent {
                    by_ref: None,
                    mutability,
                    ident,
                    subpat: None,
                    ..
                }) = &*pt.pat
                else {
                    continue;
                };
                if !named.contains(&ident.to_string()) {
                    continue;
                }
                match &*pt.ty {
                    Type::Reference(r) if r.mutability.is_some() => out.extend(quote! {
                        #[allow(unused_mut)]
                        let #mutability #ident = &mut *#ident;
                    }),
                    Type::Reference(_) => {}
                    _ => {
                        // The copy's errors point at the argument (a renamed pattern's too).
                        let span = pt.span();
                        let kc = layer.k_at(span);
                        out.extend(quote_spanned! {span=>
                            #[allow(unused_mut)]
                            let #mutability #ident = #kc::__private::CloneArg::clone_arg(&#ident);
                        });
                    }
                }
            }
        }
    }
    out
}

/// The identifiers a body uses as names: not a field or method after `.`, not a path
/// segment after `::`. Words inside string literals count (`format!("{to}")`).
fn uses(tokens: TokenStream, out: &mut HashSet<String>) {
    // Dots in a row before this token: one is a field or method access (`a.b`); two or more
    // are a range or a struct's base (`0..v`, `..base`), after which a name is used.
    let mut dots = 0;
    let mut colons = 0;
    for tt in tokens {
        let mut dot = false;
        let mut colon = false;
        match &tt {
            TokenTree::Ident(i) => {
                if dots != 1 && colons < 2 {
                    out.insert(i.to_string());
                }
            }
            TokenTree::Group(g) => uses(g.stream(), out),
            TokenTree::Literal(l) => {
                let text = l.to_string();
                for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if !word.is_empty() {
                        out.insert(word.to_owned());
                    }
                }
            }
            TokenTree::Punct(p) => {
                dot = p.as_char() == '.';
                colon = p.as_char() == ':';
            }
        }
        dots = if dot { dots + 1 } else { 0 };
        colons = if colon { colons + 1 } else { 0 };
    }
}

fn self_ident() -> Ident {
    local("self")
}

/// Whether `self` is re-bound per attempt (a by-value `self` is cloned, `&mut self`
/// reborrowed, `&self` copied, all before the attempt's `move` block): the body's `self`
/// then names the attempt's binding.
pub(crate) fn receiver_is_rebound(sig: &Signature) -> bool {
    sig.receiver().is_some()
}

/// Renames patterns that are not plain identifiers (`(a, b): (u32, u32)`) so that each
/// attempt can re-bind them from a fresh copy.
pub(crate) fn name_patterns(item: &mut ItemFn) -> Vec<(Pat, Ident)> {
    let mut renamed = Vec::new();
    for (i, arg) in item.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        if matches!(&*pt.pat, Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none())
            || matches!(&*pt.pat, Pat::Wild(_))
        {
            continue;
        }
        let span = Span::mixed_site().located_at(pt.pat.span());
        let ident = format_ident!("__backoff_arg{}", i, span = span);
        let pat = std::mem::replace(
            &mut *pt.pat,
            Pat::Ident(PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident: ident.clone(),
                subpat: None,
            }),
        );
        renamed.push((pat, ident));
    }
    renamed
}

/// `let PAT = __backoff_argN;` at the top of the original body, so the renamed arguments
/// are copied (by the attempt) and then destructured.
pub(crate) fn rebind_patterns(block: &mut Block, renamed: Vec<(Pat, Ident)>) {
    let lets: Vec<syn::Stmt> = renamed
        .into_iter()
        .map(|(pat, ident)| syn::parse_quote!(let #pat = #ident;))
        .collect();
    block.stmts.splice(0..0, lets);
}

/// Each attempt re-binds what it owns, so the signature's own bindings are never mutated:
/// drop their `mut` to avoid a warning.
pub(crate) fn unmut_signature(sig: &mut Signature) {
    for arg in &mut sig.inputs {
        match arg {
            FnArg::Receiver(r) if matches!(r.kind, ReceiverKind::Value) => r.mutability = None,
            FnArg::Typed(pt) => {
                if let Pat::Ident(p) = &mut *pt.pat
                    && !matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_none())
                {
                    p.mutability = None;
                }
            }
            FnArg::Receiver(_) => {}
        }
    }
}

/// Rewrites `self` in a body to the attempt's own binding.
pub(crate) fn rewrite_self(block: &mut Block) {
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_expr_path_mut(&mut self, e: &mut syn::ExprPath) {
            if e.qself.is_none() && e.path.is_ident("self") {
                e.path = self_ident().into();
            }
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            mac.tokens = rewrite_tokens(std::mem::take(&mut mac.tokens));
        }
    }
    Rewrite.visit_block_mut(block);
}

fn rewrite_tokens(tokens: TokenStream) -> TokenStream {
    let mut tokens = tokens.into_iter().peekable();
    let mut out = Vec::new();
    while let Some(tt) = tokens.next() {
        out.push(match tt {
            // Not `self::item`, a path to the current module.
            TokenTree::Ident(i)
                if i == "self"
                    && !matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':') =>
            {
                TokenTree::Ident(self_ident())
            }
            TokenTree::Group(g) => {
                let mut ng = proc_macro2::Group::new(g.delimiter(), rewrite_tokens(g.stream()));
                ng.set_span(g.span());
                TokenTree::Group(ng)
            }
            other => other,
        });
    }
    out.into_iter().collect()
}
