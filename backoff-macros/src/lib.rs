//! The `#[backoff(...)]` attribute. Use it through the `backoff` crate, which documents it in
//! full: `use backoff::backoff;`.

mod attr;
mod expand;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Rewrites an `async fn` or a plain `fn` into a retry loop with Python `backoff`'s semantics.
/// See the `backoff` crate for the arguments.
#[proc_macro_attribute]
pub fn backoff(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(args.into(), item.into()).into()
}

fn entry(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut cx = attr::Ctxt::default();
    let parsed = attr::Args::parse(args, &mut cx);
    let item_fn = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Fn(f)) => Some(f),
        Ok(syn::Item::Verbatim(tokens))
            if syn::parse2::<syn::TraitItemFn>(tokens.clone())
                .is_ok_and(|f| f.default.is_none()) =>
        {
            cx.error(
                syn::spanned::Spanned::span(&tokens),
                "`#[backoff]` needs a fn body to retry, and a trait method declaration has none: put the attribute on the method in each `impl` of the trait",
            );
            None
        }
        Ok(other) => {
            cx.error(
                item_span(&other),
                "`#[backoff]` goes on a fn (`async fn` or `fn`, free or in an impl) whose return value it can judge",
            );
            None
        }
        Err(e) => {
            // Not an item at all, e.g. a trait method without a body (`fn f();`).
            cx.push(syn::Error::new(
                e.span(),
                "`#[backoff]` goes on a fn with a body (`async fn` or `fn`, free or in an impl); a trait method declaration has no body to retry",
            ));
            None
        }
    };
    let args = match parsed {
        Ok(args) => Some(args),
        Err(e) => {
            cx.push(e);
            None
        }
    };
    if let (Some(args), Some(f)) = (&args, &item_fn) {
        expand::check_fn(&mut cx, f, args);
    }
    let mut layers = Vec::new();
    if let (Some(args), Some(f)) = (args, item_fn.as_ref()) {
        // Stacked attributes nest like Python's stacked decorators: the one written first is
        // the outermost loop. The inner ones are expanded here, innermost first.
        let mut f = f.clone();
        let (inner, rest): (Vec<_>, Vec<_>) = f.attrs.drain(..).partition(expand::is_backoff_attr);
        f.attrs = rest;
        layers.push(args);
        for attr in &inner {
            let tokens = match &attr.meta {
                syn::Meta::List(list) => list.tokens.clone(),
                _ => proc_macro2::TokenStream::new(),
            };
            match attr::Args::parse(tokens, &mut cx) {
                Ok(a) => {
                    expand::check_fn(&mut cx, &f, &a);
                    layers.push(a);
                }
                Err(e) => cx.push(e),
            }
        }
        if let Err(errors) = std::mem::take(&mut cx).check() {
            return with_errors(item, errors);
        }
        return expand_fn(f, layers);
    }
    match cx.check() {
        Err(errors) => with_errors(item, errors),
        Ok(()) => item,
    }
}

fn expand_fn(mut f: syn::ItemFn, layers: Vec<attr::Args>) -> proc_macro2::TokenStream {
    let renamed = expand::name_patterns(&mut f);
    let mut block = (*f.block).clone();
    expand::rebind_patterns(&mut block, renamed);
    let by_value_self = f
        .sig
        .receiver()
        .is_some_and(|r| matches!(r.kind, syn::ReceiverKind::Value));
    for args in layers.iter().rev() {
        if by_value_self {
            expand::rewrite_self(&mut block);
        }
        block = expand::expand_layer(args, &f, &block);
    }
    *f.block = block;
    // Each attempt re-binds the arguments it owns (`let mut x = x.clone()`), so the
    // signature's own bindings are never mutated: drop their `mut` to avoid a warning.
    for arg in &mut f.sig.inputs {
        match arg {
            syn::FnArg::Receiver(r) if matches!(r.kind, syn::ReceiverKind::Value) => {
                r.mutability = None;
            }
            syn::FnArg::Typed(pt) => {
                if let syn::Pat::Ident(p) = &mut *pt.pat
                    && !matches!(&*pt.ty, syn::Type::Reference(r) if r.mutability.is_none())
                {
                    p.mutability = None;
                }
            }
            syn::FnArg::Receiver(_) => {}
        }
    }
    f.into_token_stream()
}

/// The original item, unchanged, and the errors: no cascade of follow-on errors.
fn with_errors(item: proc_macro2::TokenStream, errors: syn::Error) -> proc_macro2::TokenStream {
    let mut out = errors.to_compile_error();
    out.extend(item);
    out
}

fn item_span(item: &syn::Item) -> proc_macro2::Span {
    use syn::spanned::Spanned;
    match item {
        syn::Item::Struct(s) => s.struct_token.span,
        syn::Item::Enum(e) => e.enum_token.span,
        syn::Item::Const(c) => c.const_token.span,
        syn::Item::Static(s) => s.static_token.span,
        syn::Item::Mod(m) => m.mod_token.span,
        syn::Item::Impl(i) => i.impl_token.span,
        syn::Item::Trait(t) => t.trait_token.span,
        syn::Item::Type(t) => t.type_token.span,
        syn::Item::Use(u) => u.use_token.span,
        syn::Item::ForeignMod(m) => m.abi.span(),
        other => other.span(),
    }
}

#[cfg(test)]
mod tests {
    //! The macro never panics, whatever tokens it is given: random arguments and items made
    //! of the grammar's own words, punctuation and broken groups.
    use proptest::prelude::*;

    /// Tokens besides the argument names (`attr::KEYS`): values, punctuation, delimiters.
    const OTHER_WORDS: &[&str] = &[
        "full", "none", "error", "per", "second", "=", ",", "|", "(", ")", "[", "]", "{", "}", "0",
        "-1", "2.5", "\"x\"", "::", "&", "self", "async", "move", "_", "..", "?",
    ];

    fn word(i: usize) -> &'static str {
        let keys = crate::attr::KEYS;
        let i = i % (keys.len() + OTHER_WORDS.len());
        keys.get(i)
            .copied()
            .unwrap_or_else(|| OTHER_WORDS[i - keys.len()])
    }

    const ITEMS: &[&str] = &[
        "async fn f() -> Result<u32, String> { Ok(1) }",
        "fn f(x: String) -> bool { x.is_empty() }",
        "fn f(self) -> Option<u8> { None }",
        "const fn f() -> u8 { 1 }",
        "extern \"C\" fn f() -> u8 { 1 }",
        "struct S;",
        "fn f();",
        "fn f() { }",
        "async fn f((a, b): (u8, u8), _: u8) -> impl Sized { a + b }",
        "fn",
        "",
        "#[backoff(expo)] fn f() -> bool { true }",
        "#[backoff(((] fn f() -> bool { true }",
    ];

    /// The words, with delimiters balanced (an unmatched closer dropped, open ones closed at
    /// the end) so that every case is a token stream rustc could pass.
    fn tokens(words: &[usize]) -> String {
        let mut out = Vec::new();
        let mut open = Vec::new();
        for i in words {
            let w = word(*i);
            match w {
                "(" | "[" | "{" => open.push(match w {
                    "(" => ")",
                    "[" => "]",
                    _ => "}",
                }),
                ")" | "]" | "}" => {
                    if open.last() != Some(&w) {
                        continue;
                    }
                    open.pop();
                }
                _ => {}
            }
            out.push(w);
        }
        out.extend(open.into_iter().rev());
        out.join(" ")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics(args in proptest::collection::vec(any::<usize>(), 0..24), item in 0..ITEMS.len()) {
            let args = tokens(&args);
            // Unbalanced delimiters are not tokens at all: rustc never passes those.
            let (Ok(args), Ok(item)) = (args.parse::<proc_macro2::TokenStream>(), ITEMS[item].parse::<proc_macro2::TokenStream>()) else {
                return Ok(());
            };
            let out = super::entry(args, item.clone()).to_string();
            // Whatever happened, the user's item is still there (expanded or unchanged).
            if let Ok(syn::Item::Fn(f)) = syn::parse2::<syn::Item>(item) {
                prop_assert!(out.contains(&f.sig.ident.to_string()));
            }
        }
    }

    #[test]
    fn an_error_re_emits_the_item_unchanged() {
        let item: proc_macro2::TokenStream = "fn keep_me() -> bool { true }".parse().unwrap();
        let out = super::entry("max_tries = 0".parse().unwrap(), item.clone()).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.ends_with(&item.to_string()), "{out}");
    }
}
