//! Parsing and validating the arguments of `#[backoff(...)]`.
//!
//! Every argument goes through one set-once helper ([`Slot::set`]); every error is collected in
//! a [`Ctxt`] and reported together, each spanned on the token at fault.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Pat, Path, Token, UnOp};

/// Collects errors so that a user sees every bad argument at once.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    pub(crate) fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// An error spanned on all of `tokens` (e.g. `-5`, not just `-`).
    pub(crate) fn error_spanned(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(err),
            None => self.errors = Some(err),
        }
    }

    pub(crate) fn check(self) -> Result<(), syn::Error> {
        self.errors.map_or(Ok(()), Err)
    }
}

/// An argument that may be given once.
pub(crate) struct Slot<T> {
    name: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Slot<T> {
    const fn new(name: &'static str) -> Self {
        Slot { name, value: None }
    }

    /// Sets the value; a second occurrence is an error spanned on it.
    fn set(&mut self, cx: &mut Ctxt, span: Span, value: T) {
        if self.value.is_some() {
            cx.error(
                span,
                format_args!(
                    "duplicate argument `{}`: give it once (the first one stands)",
                    self.name
                ),
            );
        } else {
            self.value = Some((span, value));
        }
    }

    pub(crate) fn get(&self) -> Option<&T> {
        self.value.as_ref().map(|(_, v)| v)
    }

    pub(crate) fn span(&self) -> Option<Span> {
        self.value.as_ref().map(|(s, _)| *s)
    }
}

/// The built-in wait generators.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Gen {
    Expo,
    Fibo,
    Constant,
    Runtime,
    Decay,
    /// `wait = <expr>`
    Custom,
}

impl Gen {
    fn name(self) -> &'static str {
        match self {
            Gen::Expo => "expo",
            Gen::Fibo => "fibo",
            Gen::Constant => "constant",
            Gen::Runtime => "runtime",
            Gen::Decay => "decay",
            Gen::Custom => "wait = ...",
        }
    }

    fn params(self) -> &'static [&'static str] {
        match self {
            Gen::Expo => &["base", "factor", "max_value"],
            Gen::Fibo => &["max_value"],
            Gen::Constant => &["interval"],
            Gen::Runtime => &["value"],
            Gen::Decay => &["initial_value", "decay_factor", "min_value"],
            Gen::Custom => &[],
        }
    }
}

const GENERATORS: &[(&str, Gen)] = &[
    ("expo", Gen::Expo),
    ("fibo", Gen::Fibo),
    ("constant", Gen::Constant),
    ("runtime", Gen::Runtime),
    ("decay", Gen::Decay),
];

const GEN_PARAMS: &[&str] = &[
    "base",
    "factor",
    "max_value",
    "interval",
    "value",
    "initial_value",
    "decay_factor",
    "min_value",
];

pub(crate) const KEYS: &[&str] = &[
    "expo",
    "fibo",
    "constant",
    "runtime",
    "decay",
    "wait",
    "base",
    "factor",
    "max_value",
    "interval",
    "value",
    "initial_value",
    "decay_factor",
    "min_value",
    "max_tries",
    "max_time",
    "jitter",
    "on",
    "predicate",
    "giveup",
    "on_success",
    "on_backoff",
    "on_giveup",
    "backoff_log_level",
    "giveup_log_level",
    "logger",
    "sleep",
    "clock",
    "seed",
    "retry_after",
    "rate",
    "burst",
    "rate_key",
    "pacer",
    "crate",
];

/// A jitter as written.
pub(crate) enum JitterArg {
    Named(&'static str),
    Expr(Expr),
}

const JITTERS: &[(&str, &str)] = &[
    ("full", "Full"),
    ("random", "Random"),
    ("equal", "Equal"),
    ("decorrelated", "Decorrelated"),
    ("none", "None"),
    ("None", "None"),
];

/// What `on = ...` says.
pub(crate) enum On {
    Predicate,
    Error(Option<Pat>),
}

/// A limit: a literal, an expression evaluated per call, or a closure called per call.
pub(crate) enum Limit {
    Lit(TokenStream),
    Expr(Expr),
}

/// `Some(level)` or `None` (off), as tokens naming a `tracing::Level` constant.
pub(crate) type LogLevel = Option<&'static str>;

const LEVELS: &[(&str, LogLevel)] = &[
    ("trace", Some("TRACE")),
    ("debug", Some("DEBUG")),
    ("info", Some("INFO")),
    ("warn", Some("WARN")),
    ("error", Some("ERROR")),
    ("off", None),
    ("none", None),
];

/// The parsed, validated arguments.
pub(crate) struct Args {
    pub(crate) generator: Slot<Gen>,
    pub(crate) wait: Slot<Expr>,
    pub(crate) params: Vec<(&'static str, Slot<Expr>)>,
    pub(crate) max_tries: Slot<Limit>,
    pub(crate) max_time: Slot<Limit>,
    pub(crate) jitter: Slot<JitterArg>,
    pub(crate) on: Slot<On>,
    pub(crate) predicate: Slot<Expr>,
    pub(crate) giveup: Slot<Expr>,
    pub(crate) on_success: Slot<Vec<Expr>>,
    pub(crate) on_backoff: Slot<Vec<Expr>>,
    pub(crate) on_giveup: Slot<Vec<Expr>>,
    pub(crate) backoff_log_level: Slot<LogLevel>,
    pub(crate) giveup_log_level: Slot<LogLevel>,
    pub(crate) logger: Slot<()>,
    pub(crate) sleep: Slot<Expr>,
    pub(crate) clock: Slot<Expr>,
    pub(crate) seed: Slot<Expr>,
    pub(crate) retry_after: Slot<Expr>,
    pub(crate) rate: Slot<Rate>,
    pub(crate) burst: Slot<Expr>,
    pub(crate) rate_key: Slot<Expr>,
    pub(crate) pacer: Slot<Expr>,
    pub(crate) krate: Slot<Path>,
}

impl Args {
    fn new() -> Self {
        Args {
            generator: Slot::new("wait generator"),
            wait: Slot::new("wait"),
            params: GEN_PARAMS.iter().map(|p| (*p, Slot::new(p))).collect(),
            max_tries: Slot::new("max_tries"),
            max_time: Slot::new("max_time"),
            jitter: Slot::new("jitter"),
            on: Slot::new("on"),
            predicate: Slot::new("predicate"),
            giveup: Slot::new("giveup"),
            on_success: Slot::new("on_success"),
            on_backoff: Slot::new("on_backoff"),
            on_giveup: Slot::new("on_giveup"),
            backoff_log_level: Slot::new("backoff_log_level"),
            giveup_log_level: Slot::new("giveup_log_level"),
            logger: Slot::new("logger"),
            sleep: Slot::new("sleep"),
            clock: Slot::new("clock"),
            seed: Slot::new("seed"),
            retry_after: Slot::new("retry_after"),
            rate: Slot::new("rate"),
            burst: Slot::new("burst"),
            rate_key: Slot::new("rate_key"),
            pacer: Slot::new("pacer"),
            krate: Slot::new("crate"),
        }
    }

    pub(crate) fn param(&self, name: &str) -> Option<&Expr> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, s)| s.get())
    }

    pub(crate) fn gen_kind(&self) -> Gen {
        self.generator.get().copied().unwrap_or(Gen::Expo)
    }

    /// Parses `tokens`, the attribute's arguments. Syntax errors end the parse; every other
    /// error is collected in `cx`.
    pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt) -> syn::Result<Self> {
        let mut args = Args::new();
        syn::meta::parser(|meta| args.parse_one(meta, cx)).parse2(tokens)?;
        args.validate(cx);
        Ok(args)
    }

    fn parse_one(&mut self, meta: ParseNestedMeta, cx: &mut Ctxt) -> syn::Result<()> {
        let span = meta.path.span();
        let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
            cx.error_spanned(
                &meta.path,
                format_args!(
                    "unknown argument `{}`: arguments are plain names such as `max_tries`",
                    meta.path.to_token_stream().to_string().replace(' ', "")
                ),
            );
            return skip_value(&meta);
        };
        let key = key.trim_start_matches("r#");
        if let Some((_, generator)) = GENERATORS.iter().find(|(name, _)| *name == key) {
            if meta.input.peek(Token![=]) {
                cx.error(
                    span,
                    format_args!(
                        "`{key}` is a wait generator and takes no value: write `{key}`, and its parameters as separate arguments ({})",
                        generator.params().iter().map(|p| format!("`{p} = ...`")).collect::<Vec<_>>().join(", ")
                    ),
                );
                return skip_value(&meta);
            }
            if meta.input.peek(syn::token::Paren) {
                // `expo(base = 3, factor = 0.5)`: parameters in parentheses.
                self.set_generator(cx, span, *generator);
                let generator = *generator;
                return meta.parse_nested_meta(|inner| {
                    let name = inner.path.get_ident().map(ToString::to_string);
                    match name.as_deref() {
                        Some(p) if generator.params().contains(&p) => self.parse_one(inner, cx),
                        _ => {
                            cx.error_spanned(
                                &inner.path,
                                format_args!(
                                    "`{}(...)` takes only its own parameters ({}); write other arguments after it, separated by commas",
                                    generator.name(),
                                    generator.params().iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                                ),
                            );
                            skip_value(&inner)
                        }
                    }
                });
            }
            self.set_generator(cx, span, *generator);
            return Ok(());
        }
        if !meta.input.peek(Token![=]) && key != "on" {
            if KEYS.contains(&key) {
                cx.error(
                    span,
                    format_args!("`{key}` needs a value: `{key} = {}`", example(key)),
                );
            } else {
                unknown(cx, span, key);
            }
            return skip_value(&meta);
        }
        if let Some(slot) = self.expr_slot(key) {
            let value = meta.value()?.parse::<Expr>()?;
            slot.set(cx, span, value);
            return Ok(());
        }
        match key {
            "wait" => {
                let value = meta.value()?.parse::<Expr>()?;
                self.set_generator(cx, span, Gen::Custom);
                self.wait.set(cx, span, value);
            }
            "max_tries" => {
                let value = meta.value()?.parse::<Expr>()?;
                let limit = max_tries(cx, &value);
                self.max_tries.set(cx, span, limit);
            }
            "max_time" => {
                let value = meta.value()?.parse::<Expr>()?;
                let limit = seconds(cx, "max_time", &value, Bound::Positive);
                self.max_time.set(cx, span, limit);
            }
            "jitter" => {
                let value = meta.value()?.parse::<Expr>()?;
                if let Some(jitter) = jitter(cx, value) {
                    self.jitter.set(cx, span, jitter);
                }
            }
            "on" => {
                if let Some(on) = parse_on(cx, &meta)? {
                    self.on.set(cx, span, on);
                }
            }
            "on_success" | "on_backoff" | "on_giveup" => {
                let value = meta.value()?.parse::<Expr>()?;
                let handlers = match value {
                    Expr::Array(array) => array.elems.into_iter().collect(),
                    other => vec![other],
                };
                let slot = match key {
                    "on_success" => &mut self.on_success,
                    "on_backoff" => &mut self.on_backoff,
                    _ => &mut self.on_giveup,
                };
                slot.set(cx, span, handlers);
            }
            "backoff_log_level" | "giveup_log_level" => {
                let value = meta.value()?.parse::<Expr>()?;
                if let Some(level) = log_level(cx, key, &value) {
                    let slot = if key == "backoff_log_level" {
                        &mut self.backoff_log_level
                    } else {
                        &mut self.giveup_log_level
                    };
                    slot.set(cx, span, level);
                }
            }
            "logger" => {
                let value = meta.value()?.parse::<Expr>()?;
                if ident_of(&value).is_some_and(|i| i == "none" || i == "None") {
                    self.logger.set(cx, span, ());
                } else {
                    cx.error_spanned(
                        value,
                        "`logger` takes only `none` (silence both log lines): events always use the tracing target `backoff`; route or filter them in your subscriber",
                    );
                }
            }
            "rate" => {
                let input = meta.value()?;
                if let Some(rate) = parse_rate(cx, input)? {
                    self.rate.set(cx, span, rate);
                }
            }
            "burst" => {
                let value = meta.value()?.parse::<Expr>()?;
                if let Some(Ok(n)) = number(&value) {
                    let ok = matches!(n, Number::Int(i) if i >= 1 && i <= i128::from(u32::MAX));
                    if !ok {
                        cx.error_spanned(
                            &value,
                            "`burst` is how many attempts may start at once: an integer from 1 up",
                        );
                    }
                }
                self.burst.set(cx, span, value);
            }
            "crate" => {
                let lit = meta.value()?.parse::<Expr>()?;
                match &lit {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => match s.parse::<Path>() {
                        Ok(path) => self.krate.set(cx, span, path),
                        Err(_) => cx.error(
                            s.span(),
                            "`crate` must name a path, e.g. `crate = \"my_crate::backoff\"`",
                        ),
                    },
                    other => cx.error(
                        other.span(),
                        "`crate` takes a string literal, e.g. `crate = \"my_crate::backoff\"`",
                    ),
                }
            }
            param if GEN_PARAMS.contains(&param) => {
                let value = meta.value()?.parse::<Expr>()?;
                check_param(cx, param, &value);
                let slot = self
                    .params
                    .iter_mut()
                    .find(|(n, _)| *n == param)
                    .map(|(_, s)| s);
                if let Some(slot) = slot {
                    slot.set(cx, span, value);
                }
            }
            _ => {
                unknown(cx, span, key);
                return skip_value(&meta);
            }
        }
        Ok(())
    }

    /// The slot of an argument whose value is any expression, checked later by the types.
    fn expr_slot(&mut self, key: &str) -> Option<&mut Slot<Expr>> {
        Some(match key {
            "predicate" => &mut self.predicate,
            "giveup" => &mut self.giveup,
            "sleep" => &mut self.sleep,
            "clock" => &mut self.clock,
            "seed" => &mut self.seed,
            "retry_after" => &mut self.retry_after,
            "rate_key" => &mut self.rate_key,
            "pacer" => &mut self.pacer,
            _ => return None,
        })
    }

    fn set_generator(&mut self, cx: &mut Ctxt, span: Span, generator: Gen) {
        if let Some(first) = self.generator.get() {
            cx.error(
                span,
                format_args!(
                    "two wait generators: `{}` was given already; keep one",
                    first.name()
                ),
            );
            return;
        }
        self.generator.set(cx, span, generator);
    }

    fn validate(&mut self, cx: &mut Ctxt) {
        let generator = self.gen_kind();
        for (name, slot) in &self.params {
            let Some(span) = slot.span() else { continue };
            if !generator.params().contains(name) {
                let owner = GENERATORS
                    .iter()
                    .find(|(_, g)| g.params().contains(name))
                    .map_or("?", |(n, _)| *n);
                let given = if self.generator.get().is_some() {
                    format!("the wait generator is `{}`", generator.name())
                } else {
                    "no wait generator is named, so it is `expo`".to_owned()
                };
                cx.error(
                    span,
                    format_args!(
                        "`{name}` is a parameter of `{owner}`, but {given}; {}",
                        if generator.params().is_empty() {
                            format!("`{}` takes no parameters", generator.name())
                        } else {
                            format!(
                                "`{}` takes {}",
                                generator.name(),
                                generator
                                    .params()
                                    .iter()
                                    .map(|p| format!("`{p}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                );
            }
        }
        if generator == Gen::Runtime
            && self.param("value").is_none()
            && let Some(span) = self.generator.span()
        {
            cx.error(
                span,
                "`runtime` needs `value = |outcome| ...` returning the next wait (`Option` of seconds or a `Duration`)",
            );
        }
        match (self.on.get(), self.predicate.span(), self.giveup.span()) {
            (Some(On::Error(_)), Some(span), _) => cx.error(
                span,
                "`predicate` judges values, but `on = error` retries errors: drop `predicate`, or use `on = predicate`",
            ),
            (Some(On::Predicate), _, Some(span)) => cx.error(
                span,
                "`giveup` judges errors, but `on = predicate` retries on values: fold the give-up condition into `predicate`, or use `on = error`",
            ),
            _ => {}
        }
        if let (Some(_), Some(span)) = (self.pacer.get(), self.rate.span()) {
            cx.error(
                span,
                "`rate` makes a pacer and `pacer` supplies one: give one of them",
            );
        }
        if self.rate.get().is_none()
            && let Some(span) = self.burst.span()
        {
            cx.error(
                span,
                "`burst` shapes the pacing of `rate = N per second`; add `rate`",
            );
        }
        // A supplied pacer (a Redis one, say) has keyed budgets as well.
        if self.rate.get().is_none()
            && self.pacer.get().is_none()
            && let Some(span) = self.rate_key.span()
        {
            cx.error(
                span,
                "`rate_key` picks a budget of the fn's pacer; add `rate = N per second` or `pacer = <expr>`",
            );
        }
        if self.logger.get().is_some() {
            for level in [&self.backoff_log_level, &self.giveup_log_level] {
                if let Some(span) = level.span() {
                    cx.error(
                        span,
                        "`logger = none` silences logging; a log level has no effect with it: drop one of them",
                    );
                }
            }
        }
    }
}

fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.step(|cursor| match cursor.token_tree() {
            Some((_, rest)) => Ok(((), rest)),
            None => Ok(((), *cursor)),
        })?;
    }
    Ok(())
}

fn unknown(cx: &mut Ctxt, span: Span, key: &str) {
    let best = KEYS
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .min()
        .filter(|(d, k)| *d <= 2.max(k.len() / 3));
    match best {
        Some((_, k)) => cx.error(
            span,
            format_args!("unknown argument `{key}`; did you mean `{k}`?"),
        ),
        None => cx.error(
            span,
            format_args!(
                "unknown argument `{key}`; expected one of: {}",
                KEYS.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "max_tries" => "5",
        "max_time" => "300",
        "jitter" => "full",
        "wait" => "my_generator()",
        "predicate" => "|value| ...",
        "giveup" => "|error| ...",
        "on_success" | "on_backoff" | "on_giveup" => "my_handler",
        "backoff_log_level" | "giveup_log_level" => "info",
        "logger" => "none",
        "sleep" => "my_runtime::sleep",
        "clock" => "my_runtime::Instant::now",
        "seed" => "42",
        "retry_after" => "|error| error.retry_after()",
        "rate" => "1 per second",
        "burst" => "1",
        "rate_key" => "sender",
        "pacer" => "&self.pacer",
        "crate" => "\"my_crate::backoff\"",
        "interval" => "2",
        "value" => "|outcome| ...",
        _ => "...",
    }
}

/// `on = predicate`, `on = error`, `on = error(Pattern)`.
fn parse_on(cx: &mut Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<On>> {
    if !meta.input.peek(Token![=]) {
        cx.error(
            meta.path.span(),
            "`on` needs a value: `on = error`, `on = error(Pattern)` or `on = predicate`",
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let input: ParseStream = meta.value()?;
    let ident: syn::Ident = input.parse()?;
    match ident.to_string().as_str() {
        "predicate" => Ok(Some(On::Predicate)),
        "error" => {
            if input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in input);
                let pat = Pat::parse_multi_with_leading_vert(&content)?;
                if !content.is_empty() {
                    return Err(content.error("expected one pattern, e.g. `error(ApiError::RateLimited | ApiError::Timeout(_))`"));
                }
                Ok(Some(On::Error(Some(pat))))
            } else {
                Ok(Some(On::Error(None)))
            }
        }
        other => {
            let hint = if other.starts_with("exc") || other.starts_with("err") {
                " (did you mean `error`?)"
            } else if other.starts_with("pred") || other.starts_with("val") {
                " (did you mean `predicate`?)"
            } else {
                ""
            };
            cx.error(
                ident.span(),
                format_args!(
                    "unknown `on = {other}`{hint}: use `on = error` (retry on `Err`), `on = error(Pattern)` (retry only errors matching it) or `on = predicate` (retry while `predicate` is true)"
                ),
            );
            if input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in input);
            }
            Ok(None)
        }
    }
}

/// `rate = <count> per <second|minute|hour>`.
pub(crate) struct Rate {
    pub(crate) count: Expr,
    pub(crate) per_secs: u64,
}

fn parse_rate(cx: &mut Ctxt, input: ParseStream) -> syn::Result<Option<Rate>> {
    let count: Expr = input.parse()?;
    let usage = "write the rate as `rate = 1 per second` (or `per minute`, `per hour`); the count may be an expression evaluated at the first call";
    if !input.peek(syn::Ident) {
        cx.error_spanned(&count, usage);
        return Ok(None);
    }
    let per: syn::Ident = input.parse()?;
    if per != "per" {
        cx.error(per.span(), usage);
        return Ok(None);
    }
    let unit: syn::Ident = input.parse()?;
    let per_secs = match unit.to_string().as_str() {
        "second" | "seconds" | "s" => 1,
        "minute" | "minutes" | "min" => 60,
        "hour" | "hours" | "h" => 3600,
        other => {
            cx.error(
                unit.span(),
                format_args!("unknown unit `{other}`: use `second`, `minute` or `hour`"),
            );
            return Ok(None);
        }
    };
    if let Some(Ok(n)) = number(&count) {
        let v = match n {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        };
        if v.is_nan() || v <= 0.0 {
            cx.error_spanned(
                &count,
                "a rate must be more than zero attempts per unit; leave `rate` out not to pace",
            );
        }
    }
    Ok(Some(Rate { count, per_secs }))
}

fn ident_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

fn jitter(cx: &mut Ctxt, value: Expr) -> Option<JitterArg> {
    if let Some(name) = ident_of(&value) {
        if let Some((_, variant)) = JITTERS.iter().find(|(n, _)| *n == name) {
            return Some(JitterArg::Named(variant));
        }
        let near = JITTERS
            .iter()
            .map(|(n, _)| (strsim::damerau_levenshtein(&name, n), *n))
            .min()
            .filter(|(d, _)| *d <= 2);
        if let Some((_, n)) = near {
            cx.error_spanned(
                value,
                format_args!(
                    "unknown jitter `{name}`; did you mean `{n}`? Use `full`, `random`, `equal`, `decorrelated`, `none`, or an expression: a `backoff::Jitter` or a `Fn(Duration) -> Duration`"
                ),
            );
            return None;
        }
    }
    if let Expr::Lit(lit) = &value {
        cx.error(
            lit.span(),
            "a jitter is a name, not a literal: use `full`, `random`, `equal`, `decorrelated`, `none`, or an expression: a `backoff::Jitter` or a `Fn(Duration) -> Duration`",
        );
        return None;
    }
    Some(JitterArg::Expr(value))
}

fn log_level(cx: &mut Ctxt, key: &str, value: &Expr) -> Option<LogLevel> {
    let name = ident_of(value).map(|s| s.to_ascii_lowercase());
    match name
        .as_deref()
        .and_then(|n| LEVELS.iter().find(|(l, _)| *l == n))
    {
        Some((_, level)) => Some(*level),
        None => {
            cx.error_spanned(
                value,
                format_args!(
                    "`{key}` must be one of `trace`, `debug`, `info`, `warn`, `error`, or `off`"
                ),
            );
            None
        }
    }
}

/// A literal number, with its sign.
enum Number {
    Int(i128),
    Float(f64),
}

fn number(expr: &Expr) -> Option<syn::Result<Number>> {
    let (neg, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, lit),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => match &*u.expr {
            Expr::Lit(ExprLit { lit, .. }) => (true, lit),
            _ => return None,
        },
        _ => return None,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    Some(match lit {
        Lit::Int(i) => i
            .base10_parse::<i128>()
            .map(|v| Number::Int(if neg { -v } else { v })),
        Lit::Float(f) => f.base10_parse::<f64>().map(|v| Number::Float(sign * v)),
        other => Err(syn::Error::new(other.span(), "")),
    })
}

fn max_tries(cx: &mut Ctxt, value: &Expr) -> Limit {
    match number(value) {
        None => match value {
            Expr::Lit(lit) => {
                cx.error(
                    lit.span(),
                    "`max_tries` takes an integer number of attempts, e.g. `max_tries = 5`",
                );
                Limit::Lit(quote::quote!(1))
            }
            _ => Limit::Expr(value.clone()),
        },
        Some(Ok(Number::Int(n))) if n >= 1 && n <= i128::from(u32::MAX) => {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            Limit::Lit(quote::quote!(#n))
        }
        Some(Ok(Number::Int(n))) if n >= 1 => {
            cx.error_spanned(
                value,
                format_args!("`max_tries = {n}` is more than `u32::MAX` attempts; leave `max_tries` out for no limit"),
            );
            Limit::Lit(quote::quote!(1))
        }
        Some(Ok(Number::Int(n))) => {
            cx.error_spanned(
                value,
                format_args!(
                    "`max_tries = {n}` would never make an attempt: it counts attempts in all, the first included, so it must be at least 1 (leave it out for no limit)"
                ),
            );
            Limit::Lit(quote::quote!(1))
        }
        Some(_) => {
            cx.error_spanned(
                value,
                "`max_tries` takes an integer number of attempts, e.g. `max_tries = 5`",
            );
            Limit::Lit(quote::quote!(1))
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Bound {
    /// Strictly above zero.
    Positive,
    /// Zero or above.
    NonNegative,
}

/// Seconds: a literal (checked here), or an expression / closure evaluated per call.
fn seconds(cx: &mut Ctxt, key: &str, value: &Expr, bound: Bound) -> Limit {
    let secs = match number(value) {
        None => {
            if let Expr::Lit(lit) = value {
                cx.error(
                    lit.span(),
                    format_args!(
                        "`{key}` takes seconds as a number (`{key} = 300`, `{key} = 0.5`), a `Duration`, or a closure returning either"
                    ),
                );
            }
            return Limit::Expr(value.clone());
        }
        Some(Ok(Number::Int(n))) => n as f64,
        Some(Ok(Number::Float(f))) => f,
        Some(Err(_)) => {
            cx.error_spanned(
                value,
                format_args!(
                    "`{key}` takes seconds as a number (`{key} = 300`, `{key} = 0.5`), a `Duration`, or a closure returning either"
                ),
            );
            return Limit::Expr(value.clone());
        }
    };
    let bad = match bound {
        Bound::Positive => secs.is_nan() || secs <= 0.0,
        Bound::NonNegative => secs.is_nan() || secs < 0.0,
    };
    if bad {
        let need = if bound == Bound::Positive {
            "more than zero seconds"
        } else {
            "zero seconds or more"
        };
        let why = if key == "max_time" {
            " (a run with no time left would give up after its first attempt; leave `max_time` out for no limit)"
        } else {
            ""
        };
        cx.error_spanned(
            value,
            format_args!(
                "`{key} = {}` is out of range: it must be {need}{why}",
                value.to_token_stream().to_string().replace(' ', "")
            ),
        );
    }
    Limit::Lit(value.to_token_stream())
}

fn check_param(cx: &mut Ctxt, param: &str, value: &Expr) {
    match param {
        "base" => {
            if let Some(Ok(n)) = number(value) {
                let base = match n {
                    Number::Int(i) => i as f64,
                    Number::Float(f) => f,
                };
                if base.is_nan() || base < 1.0 {
                    cx.error_spanned(
                        value,
                        format_args!(
                            "`base = {}` is out of range: `expo` multiplies each wait by `base`, so it must be at least 1 (use `decay` for waits that shrink)",
                            value.to_token_stream().to_string().replace(' ', "")
                        ),
                    );
                }
            } else if let Expr::Lit(lit) = value {
                cx.error(lit.span(), "`base` takes a number, e.g. `base = 3`");
            }
        }
        "decay_factor" => {
            if let Some(Ok(n)) = number(value) {
                let f = match n {
                    Number::Int(i) => i as f64,
                    Number::Float(f) => f,
                };
                if f.is_nan() || f < 0.0 {
                    cx.error_spanned(
                        value,
                        "`decay_factor` must be zero or more: a negative factor makes the waits grow without bound",
                    );
                }
            } else if let Expr::Lit(lit) = value {
                cx.error(
                    lit.span(),
                    "`decay_factor` takes a number, e.g. `decay_factor = 0.5`",
                );
            }
        }
        "factor" | "max_value" | "min_value" | "initial_value" => {
            seconds(cx, param, value, Bound::NonNegative);
        }
        "interval" => {
            let elems: Vec<&Expr> = match value {
                Expr::Array(a) if a.elems.is_empty() => {
                    cx.error_spanned(
                        value,
                        "`interval = []` gives no waits at all: list at least one (`interval = [1, 2, 4]`), or use `max_tries = 1` for no retries",
                    );
                    return;
                }
                Expr::Array(a) => a.elems.iter().collect(),
                other => vec![other],
            };
            for e in elems {
                seconds(cx, "interval", e, Bound::NonNegative);
            }
        }
        _ => {}
    }
}

/// The crate path, `::backoff` by default.
pub(crate) fn crate_path(args: &Args) -> Path {
    args.krate
        .get()
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(::backoff))
}
