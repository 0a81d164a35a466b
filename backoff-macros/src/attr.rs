//! Parsing `#[backoff(...)]`: the table of arguments and their typed values.
//!
//! [`ARGS`] is the one list of argument names: the parser looks names up in it, an unknown
//! name is matched against it for "did you mean", a generator's parameters are read from it,
//! and the docs' list is checked against it (`tests::docs_list_every_argument`). Values are
//! parsed into typed forms ([`Level`], [`Jitter`], [`On`], [`Rate`]) that print themselves as
//! tokens; checking what they say is [`crate::valid`]'s job.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Pat, Path, Token};

use crate::ctxt::Ctxt;

/// The built-in wait generators, and `wait = <expr>`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Gen {
    Expo,
    Fibo,
    Constant,
    Runtime,
    Decay,
    Custom,
}

/// What kind of value an argument takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// A bare word naming a wait generator, parameters optionally in parentheses.
    Generator(Gen),
    /// A parameter of these generators: any expression.
    Param(&'static [Gen]),
    /// `wait = <expr>`: a custom generator.
    Wait,
    /// Any expression; its type is checked by the expansion's helper traits.
    Expr,
    /// A handler or a list of handlers.
    Handlers,
    /// `trace | debug | info | warn | error | off`.
    Level,
    /// A jitter name or expression.
    Jitter,
    /// `error`, `error(Pattern)`, `predicate`, `outcome`.
    On,
    /// `none`.
    Logger,
    /// `<count> per <unit>`, or `adaptive`.
    Rate,
    /// Bare (`observe`: the output tells), or `observe = <closure or fn>`.
    Observe,
    /// A string literal holding a path.
    CratePath,
}

/// One argument of the attribute.
pub(crate) struct ArgDef {
    pub(crate) key: Key,
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// The value shown in "`name` needs a value: `name = ...`".
    pub(crate) example: &'static str,
}

macro_rules! arguments {
    ($($key:ident $name:literal $kind:expr, $example:literal;)*) => {
        /// An argument, by name.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[allow(clippy::enum_variant_names)] // `RateKey` is the argument `rate_key`

        pub(crate) enum Key { $($key),* }

        /// Every argument (`tests::docs_list_every_argument` holds that the reference on
        /// `backoff` in `lib.rs` names each one).
        pub(crate) const ARGS: &[ArgDef] = &[
            $(ArgDef { key: Key::$key, name: $name, kind: $kind, example: $example }),*
        ];
    };
}

use Gen::{Constant, Decay, Expo, Fibo, Runtime};

arguments! {
    Expo "expo" Kind::Generator(Expo), "";
    Fibo "fibo" Kind::Generator(Fibo), "";
    Constant "constant" Kind::Generator(Constant), "";
    Runtime "runtime" Kind::Generator(Runtime), "";
    Decay "decay" Kind::Generator(Decay), "";
    Wait "wait" Kind::Wait, "my_generator()";
    Base "base" Kind::Param(&[Expo]), "2";
    Factor "factor" Kind::Param(&[Expo]), "1";
    MaxValue "max_value" Kind::Param(&[Expo, Fibo]), "60";
    Interval "interval" Kind::Param(&[Constant]), "2";
    Value "value" Kind::Param(&[Runtime]), "|outcome| ...";
    InitialValue "initial_value" Kind::Param(&[Decay]), "1";
    DecayFactor "decay_factor" Kind::Param(&[Decay]), "1";
    MinValue "min_value" Kind::Param(&[Decay]), "0.1";
    MaxTries "max_tries" Kind::Expr, "5";
    MaxTime "max_time" Kind::Expr, "300";
    Jitter "jitter" Kind::Jitter, "full";
    On "on" Kind::On, "error";
    Predicate "predicate" Kind::Expr, "|value| ...";
    Giveup "giveup" Kind::Expr, "|error| ...";
    OnSuccess "on_success" Kind::Handlers, "my_handler";
    OnBackoff "on_backoff" Kind::Handlers, "my_handler";
    OnGiveup "on_giveup" Kind::Handlers, "my_handler";
    BackoffLogLevel "backoff_log_level" Kind::Level, "info";
    GiveupLogLevel "giveup_log_level" Kind::Level, "info";
    Logger "logger" Kind::Logger, "none";
    Sleep "sleep" Kind::Expr, "my_runtime::sleep";
    Clock "clock" Kind::Expr, "my_runtime::Instant::now";
    Seed "seed" Kind::Expr, "42";
    RetryAfter "retry_after" Kind::Expr, "|error| error.retry_after()";
    Rate "rate" Kind::Rate, "1 per second";
    Burst "burst" Kind::Expr, "1";
    RateKey "rate_key" Kind::Expr, "sender";
    Pacer "pacer" Kind::Expr, "&self.pacer";
    Observe "observe" Kind::Observe, "|out| Feedback::from_http(out.status(), out.headers())";
    Budget "budget" Kind::Expr, "&self.budget";
    Crate "crate" Kind::CratePath, "\"my_crate::politely\"";
}

impl Key {
    pub(crate) fn def(self) -> &'static ArgDef {
        // The table lists every key once, in declaration order.
        &ARGS[self as usize]
    }

    pub(crate) fn name(self) -> &'static str {
        self.def().name
    }
}

impl Gen {
    pub(crate) fn name(self) -> &'static str {
        match self.key() {
            Some(key) => key.name(),
            None => "wait = ...",
        }
    }

    fn key(self) -> Option<Key> {
        ARGS.iter()
            .find(|a| a.kind == Kind::Generator(self))
            .map(|a| a.key)
    }

    /// The generator's parameters, from the table.
    pub(crate) fn params(self) -> impl Iterator<Item = &'static str> + Clone {
        ARGS.iter()
            .filter(move |a| matches!(a.kind, Kind::Param(gens) if gens.contains(&self)))
            .map(|a| a.name)
    }

    pub(crate) fn takes(self, param: &str) -> bool {
        self.params().any(|p| p == param)
    }
}

/// A `tracing` level, printed as the name of its `tracing::Level` constant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// The words a log level may be written as; `None` is off.
const LEVELS: &[(&str, Option<Level>)] = &[
    ("trace", Some(Level::Trace)),
    ("debug", Some(Level::Debug)),
    ("info", Some(Level::Info)),
    ("warn", Some(Level::Warn)),
    ("error", Some(Level::Error)),
    ("off", None),
    ("none", None),
];

impl ToTokens for Level {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let name = match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        };
        syn::Ident::new(name, Span::call_site()).to_tokens(tokens);
    }
}

/// A named jitter, printed as its `Jitter` variant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum JitterName {
    Full,
    Random,
    Equal,
    Decorrelated,
    None,
}

const JITTERS: &[(&str, JitterName)] = &[
    ("full", JitterName::Full),
    ("random", JitterName::Random),
    ("equal", JitterName::Equal),
    ("decorrelated", JitterName::Decorrelated),
    ("none", JitterName::None),
    ("None", JitterName::None),
];

impl ToTokens for JitterName {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let name = format!("{self:?}");
        syn::Ident::new(&name, Span::call_site()).to_tokens(tokens);
    }
}

/// A jitter as written.
pub(crate) enum Jitter {
    Named(JitterName),
    Expr(Expr),
}

/// What `on = ...` says.
pub(crate) enum On {
    /// `on = error` or `on = error(Pattern)`.
    Error(Option<Pat>),
    /// `on = predicate`: the predicate judges the value (a `Result`'s `Ok` value).
    Predicate,
    /// `on = outcome`: the predicate judges the whole return value.
    Outcome,
}

/// `rate = <count> per <second|minute|hour>`, or `rate = adaptive`.
pub(crate) enum Rate {
    /// A fixed rate: `count` attempts per `per_secs` seconds.
    Fixed { count: Expr, per_secs: u64 },
    /// A rate learned from how the attempts went (which the expansion then observes).
    Adaptive,
}

/// A parsed value.
pub(crate) enum Value {
    Flag,
    Expr(Expr),
    Handlers(Vec<Expr>),
    Level(Option<Level>),
    Jitter(Jitter),
    On(On),
    Rate(Rate),
    Path(Path),
}

/// One argument as given.
pub(crate) struct Given {
    pub(crate) key: Key,
    pub(crate) span: Span,
    pub(crate) value: Value,
    /// Its position among the attribute's arguments, for error order.
    pub(crate) index: usize,
}

/// The arguments of one `#[backoff(...)]`.
pub(crate) struct Args {
    pub(crate) generator: Option<(Span, Gen)>,
    pub(crate) given: Vec<Given>,
    /// How many arguments were read (error positions of later checks come after them).
    pub(crate) count: usize,
    base: usize,
}

impl Args {
    /// Parses the attribute's arguments. Syntax errors end the parse; every other error is
    /// collected in `cx`.
    pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt, base: usize) -> syn::Result<Self> {
        let mut args = Args {
            generator: None,
            given: Vec::new(),
            count: 0,
            base,
        };
        syn::meta::parser(|meta| {
            let index = base + args.count;
            args.count += 1;
            cx.at(index);
            args.parse_one(meta, cx, index)
        })
        .parse2(tokens)?;
        Ok(args)
    }

    pub(crate) fn get(&self, key: Key) -> Option<&Given> {
        self.given.iter().find(|g| g.key == key)
    }

    pub(crate) fn span(&self, key: Key) -> Option<Span> {
        self.get(key).map(|g| g.span)
    }

    pub(crate) fn expr(&self, key: Key) -> Option<&Expr> {
        match self.get(key).map(|g| &g.value) {
            Some(Value::Expr(e)) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn handlers(&self, key: Key) -> &[Expr] {
        match self.get(key).map(|g| &g.value) {
            Some(Value::Handlers(list)) => list,
            _ => &[],
        }
    }

    pub(crate) fn has_handlers(&self) -> bool {
        [Key::OnSuccess, Key::OnBackoff, Key::OnGiveup]
            .iter()
            .any(|k| !self.handlers(*k).is_empty())
    }

    /// The level of a log line: `None` when off (`logger = none` or `off`), else the one
    /// given, else `default`.
    pub(crate) fn level(&self, key: Key, default: Level) -> Option<Level> {
        if self.get(Key::Logger).is_some() {
            return None;
        }
        match self.get(key).map(|g| &g.value) {
            Some(Value::Level(level)) => *level,
            _ => Some(default),
        }
    }

    /// Whether a level was given explicitly (or silenced by `logger = none`).
    pub(crate) fn level_given(&self, key: Key) -> bool {
        self.get(key).is_some() || self.get(Key::Logger).is_some()
    }

    pub(crate) fn jitter(&self) -> Option<&Jitter> {
        match self.get(Key::Jitter).map(|g| &g.value) {
            Some(Value::Jitter(j)) => Some(j),
            _ => None,
        }
    }

    pub(crate) fn on(&self) -> Option<&On> {
        match self.get(Key::On).map(|g| &g.value) {
            Some(Value::On(on)) => Some(on),
            _ => None,
        }
    }

    pub(crate) fn rate(&self) -> Option<&Rate> {
        match self.get(Key::Rate).map(|g| &g.value) {
            Some(Value::Rate(r)) => Some(r),
            _ => None,
        }
    }

    /// Whether the fn is paced: `rate = ...` or `pacer = ...`.
    pub(crate) fn paces(&self) -> bool {
        self.rate().is_some() || self.get(Key::Pacer).is_some()
    }

    /// Whether each attempt's outcome is fed to the pacer: `rate = adaptive` implies it,
    /// `observe` asks for it with `pacer = ...`.
    pub(crate) fn observes(&self) -> bool {
        matches!(self.rate(), Some(Rate::Adaptive))
            || (self.get(Key::Observe).is_some() && self.get(Key::Pacer).is_some())
    }

    pub(crate) fn gen_kind(&self) -> Gen {
        self.generator.map_or(Gen::Expo, |(_, g)| g)
    }

    /// The crate path, `::politely` by default.
    pub(crate) fn crate_path(&self) -> Path {
        match self.get(Key::Crate).map(|g| &g.value) {
            Some(Value::Path(p)) => p.clone(),
            _ => syn::parse_quote!(::politely),
        }
    }

    /// Sets an argument once; a second occurrence is an error spanned on it.
    fn set(&mut self, cx: &mut Ctxt, key: Key, span: Span, value: Value, index: usize) {
        if self.get(key).is_some() {
            cx.error(
                span,
                format_args!(
                    "duplicate argument `{}`: give it once (the first one stands)",
                    key.name()
                ),
            );
        } else {
            self.given.push(Given {
                key,
                span,
                value,
                index,
            });
        }
    }

    fn set_generator(&mut self, cx: &mut Ctxt, span: Span, generator: Gen) {
        match self.generator {
            Some((_, first)) => cx.error(
                span,
                format_args!(
                    "two wait generators: `{}` was given already; keep one",
                    first.name()
                ),
            ),
            None => self.generator = Some((span, generator)),
        }
    }

    fn parse_one(&mut self, meta: ParseNestedMeta, cx: &mut Ctxt, index: usize) -> syn::Result<()> {
        let span = meta.path.span();
        let Some(ident) = meta.path.get_ident() else {
            cx.error_spanned(
                &meta.path,
                format_args!(
                    "unknown argument `{}`: arguments are plain names such as `max_tries`",
                    meta.path.to_token_stream().to_string().replace(' ', "")
                ),
            );
            return skip_value(&meta);
        };
        let name = ident.to_string();
        let name = name.trim_start_matches("r#");
        let Some(def) = ARGS.iter().find(|a| a.name == name) else {
            unknown(cx, span, name);
            return skip_value(&meta);
        };
        match def.kind {
            Kind::Generator(generator) => return self.parse_generator(meta, cx, generator),
            Kind::On => {
                if let Some(on) = parse_on(cx, &meta)? {
                    self.set(cx, def.key, span, Value::On(on), index);
                }
                return Ok(());
            }
            // Bare `observe`: the fn's output tells how the attempt went.
            Kind::Observe if !meta.input.peek(Token![=]) && !meta.input.peek(syn::token::Paren) => {
                self.set(cx, def.key, span, Value::Flag, index);
                return Ok(());
            }
            _ => {}
        }
        if !meta.input.peek(Token![=]) {
            cx.error(
                span,
                format_args!("`{name}` needs a value: `{name} = {}`", def.example),
            );
            return skip_value(&meta);
        }
        let input = meta.value()?;
        // `max_tries = ,` or `max_tries = )`: said on the name, with an example (syn would say
        // "unexpected end of input" on the whole attribute).
        if input.is_empty() || input.peek(Token![,]) {
            cx.error(
                span,
                format_args!("`{name} =` needs a value: `{name} = {}`", def.example),
            );
            return Ok(());
        }
        let value = match def.kind {
            Kind::Rate => match parse_rate(cx, input)? {
                Some(rate) => Value::Rate(rate),
                None => return Ok(()),
            },
            Kind::Wait => {
                self.set_generator(cx, span, Gen::Custom);
                Value::Expr(input.parse()?)
            }
            Kind::Param(_) | Kind::Expr | Kind::Observe => Value::Expr(wide_int(input.parse()?)),
            Kind::Handlers => Value::Handlers(match input.parse()? {
                Expr::Array(array) => array.elems.into_iter().collect(),
                other => vec![other],
            }),
            Kind::Level => match level(cx, name, &input.parse()?) {
                Some(level) => Value::Level(level),
                None => return Ok(()),
            },
            Kind::Jitter => match jitter(cx, input.parse()?) {
                Some(jitter) => Value::Jitter(jitter),
                None => return Ok(()),
            },
            Kind::Logger => {
                let value: Expr = input.parse()?;
                if !ident_of(&value).is_some_and(|i| i == "none" || i == "None") {
                    cx.error_spanned(
                        value,
                        "`logger` takes only `none` (silence both log lines): events always use the tracing target `backoff`; route or filter them in your subscriber",
                    );
                    return Ok(());
                }
                Value::Flag
            }
            Kind::CratePath => match crate_path(cx, &input.parse()?) {
                Some(path) => Value::Path(path),
                None => return Ok(()),
            },
            Kind::Generator(_) | Kind::On => unreachable!("handled above"),
        };
        self.set(cx, def.key, span, value, index);
        Ok(())
    }

    /// `expo`, or `expo(base = 3, factor = 0.5)`.
    fn parse_generator(
        &mut self,
        meta: ParseNestedMeta,
        cx: &mut Ctxt,
        generator: Gen,
    ) -> syn::Result<()> {
        let span = meta.path.span();
        let name = generator.name();
        if meta.input.peek(Token![=]) {
            cx.error(
                span,
                format_args!(
                    "`{name}` is a wait generator and takes no value: write `{name}`, and its parameters as separate arguments ({})",
                    list(generator.params().map(|p| format!("{p} = ...")))
                ),
            );
            return skip_value(&meta);
        }
        self.set_generator(cx, span, generator);
        if !meta.input.peek(syn::token::Paren) {
            return Ok(());
        }
        meta.parse_nested_meta(|inner| {
            let param = inner.path.get_ident().map(ToString::to_string);
            match param {
                Some(p) if generator.takes(&p) => {
                    let index = self.base + self.count;
                    self.count += 1;
                    cx.at(index);
                    self.parse_one(inner, cx, index)
                }
                _ => {
                    cx.error_spanned(
                        &inner.path,
                        format_args!(
                            "`{name}(...)` takes only its own parameters ({}); write other arguments after it, separated by commas",
                            list(generator.params())
                        ),
                    );
                    skip_value(&inner)
                }
            }
        })
    }
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn list<S: std::fmt::Display>(items: impl Iterator<Item = S>) -> String {
    items
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
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

/// The candidate nearest to a misspelt `name`, if one is near enough to be what was meant.
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .min()
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .map(|(_, c)| c)
}

fn unknown(cx: &mut Ctxt, span: Span, name: &str) {
    match nearest(name, ARGS.iter().map(|a| a.name)) {
        Some(k) => cx.error(
            span,
            format_args!("unknown argument `{name}`; did you mean `{k}`?"),
        ),
        None => cx.error(
            span,
            format_args!(
                "unknown argument `{name}`; expected one of: {}",
                list(ARGS.iter().map(|a| a.name))
            ),
        ),
    }
}

/// Every form of `on = ...` and what it retries: the errors about `on` list them all from here.
pub(crate) const ON_FORMS: &[(&str, &str)] = &[
    ("error", "retry on `Err`"),
    ("error(Pattern)", "retry only errors matching it"),
    (
        "predicate",
        "retry while `predicate` is true of the value, a `Result`'s `Ok` value",
    ),
    (
        "outcome",
        "retry while `predicate` is true of the whole return value",
    ),
];

/// "`on = error` (retry on `Err`), …, or `on = outcome` (…)", from [`ON_FORMS`].
fn on_usage() -> String {
    let forms: Vec<String> = ON_FORMS
        .iter()
        .map(|(form, what)| format!("`on = {form}` ({what})"))
        .collect();
    match forms.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => forms.concat(),
    }
}

/// `on = error`, `on = error(Pattern)`, `on = predicate`, `on = outcome`.
fn parse_on(cx: &mut Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<On>> {
    if !meta.input.peek(Token![=]) {
        cx.error(
            meta.path.span(),
            format_args!("`on` needs a value: {}", on_usage()),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let input: ParseStream = meta.value()?;
    let ident: syn::Ident = input.parse()?;
    match ident.to_string().as_str() {
        name @ ("predicate" | "outcome") => {
            // `on = predicate(|v| ..)`: syn would say a bare "expected `,`".
            if input.peek(syn::token::Paren) {
                let content;
                let paren = syn::parenthesized!(content in input);
                let _: TokenStream = content.parse()?;
                cx.error(
                    paren.span.join(),
                    format_args!(
                        "`on = {name}` takes no arguments: write the predicate as its own argument, `on = {name}, predicate = |{}| ...`",
                        if name == "predicate" { "value" } else { "outcome" }
                    ),
                );
                return Ok(None);
            }
            Ok(Some(if name == "predicate" {
                On::Predicate
            } else {
                On::Outcome
            }))
        }
        "error" => {
            if !input.peek(syn::token::Paren) {
                return Ok(Some(On::Error(None)));
            }
            let content;
            syn::parenthesized!(content in input);
            let pat = Pat::parse_multi_with_leading_vert(&content)?;
            if content.peek(Token![if]) {
                return Err(content.error(
                    "`on = error(...)` takes a pattern without a guard: for a condition, judge the whole outcome, `on = outcome, predicate = |outcome| matches!(outcome, Err(Pattern) if condition)`",
                ));
            }
            if !content.is_empty() {
                return Err(content.error(
                    "expected one pattern, e.g. `error(ApiError::RateLimited | ApiError::Timeout(_))`",
                ));
            }
            Ok(Some(On::Error(Some(pat))))
        }
        other => {
            let hint = if other.starts_with("exc") || other.starts_with("err") {
                " (did you mean `error`?)"
            } else if other.starts_with("pred") || other.starts_with("val") {
                " (did you mean `predicate`?)"
            } else if other.starts_with("out") || other.starts_with("res") {
                " (did you mean `outcome`?)"
            } else {
                ""
            };
            cx.error(
                ident.span(),
                format_args!("unknown `on = {other}`{hint}: use {}", on_usage()),
            );
            if input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in input);
            }
            Ok(None)
        }
    }
}

fn parse_rate(cx: &mut Ctxt, input: ParseStream) -> syn::Result<Option<Rate>> {
    let count: Expr = input.parse()?;
    let usage = "write the rate as `rate = 1 per second` (or `per minute`, `per hour`; the count may be an expression evaluated at the first call), or `rate = adaptive` to learn it from the server's answers";
    if !input.peek(syn::Ident) {
        match &count {
            Expr::Path(_) => match ident_of(&count) {
                Some(name) if name == "adaptive" => return Ok(Some(Rate::Adaptive)),
                Some(name) if nearest(&name, ["adaptive"].into_iter()).is_some() => cx
                    .error_spanned(
                        &count,
                        format_args!("unknown rate `{name}`; did you mean `rate = adaptive`?"),
                    ),
                _ => cx.error_spanned(&count, usage),
            },
            Expr::Call(call) if ident_of(&call.func).as_deref() == Some("adaptive") => {
                cx.error(
                    call.paren_token.span.join(),
                    "`rate = adaptive` takes no parameters: for tunables (initial rate, floor, ceiling), keep a `politely::Pacer::adaptive_with(politely::AdaptiveRate::new().floor(..))` where every call sees it and write `pacer = <it>, observe`",
                );
            }
            _ => cx.error_spanned(&count, usage),
        }
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
    Ok(Some(Rate::Fixed { count, per_secs }))
}

/// An integer literal with no suffix and too large for an `i32` gets one (`u64`, or `u128`
/// past it): the runtime takes any integer type, so rustc would infer `i32` and reject the
/// literal as out of range for a type the user never chose (`max_tries = 3000000000`).
fn wide_int(expr: Expr) -> Expr {
    let Expr::Lit(ExprLit {
        attrs,
        lit: Lit::Int(int),
    }) = &expr
    else {
        return expr;
    };
    let Ok(value) = int.base10_parse::<u128>() else {
        return expr;
    };
    if !int.suffix().is_empty() || value <= i32::MAX as u128 {
        return expr;
    }
    let suffix = if u64::try_from(value).is_ok() {
        "u64"
    } else {
        "u128"
    };
    Expr::Lit(ExprLit {
        attrs: attrs.clone(),
        lit: Lit::Int(syn::LitInt::new(&format!("{value}{suffix}"), int.span())),
    })
}

pub(crate) fn ident_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

/// "`full`, `random`, …, `none`, or an expression: …", from the table.
fn jitter_usage() -> String {
    let names = JITTERS.iter().map(|(n, _)| *n).filter(|n| *n != "None");
    format!(
        "{}, or an expression: a `politely::Jitter` or a `Fn(Duration) -> Duration`",
        list(names)
    )
}

fn jitter(cx: &mut Ctxt, value: Expr) -> Option<Jitter> {
    if let Some(name) = ident_of(&value) {
        if let Some((_, j)) = JITTERS.iter().find(|(n, _)| *n == name) {
            return Some(Jitter::Named(*j));
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
                    "unknown jitter `{name}`; did you mean `{n}`? Use {}",
                    jitter_usage()
                ),
            );
            return None;
        }
    }
    if let Expr::Lit(lit) = &value {
        cx.error(
            lit.span(),
            format_args!("a jitter is a name, not a literal: use {}", jitter_usage()),
        );
        return None;
    }
    Some(Jitter::Expr(value))
}

fn level(cx: &mut Ctxt, key: &str, value: &Expr) -> Option<Option<Level>> {
    let name = ident_of(value).map(|s| s.to_ascii_lowercase());
    let found = name
        .as_deref()
        .and_then(|n| LEVELS.iter().find(|(l, _)| *l == n));
    if found.is_none() {
        cx.error_spanned(
            value,
            format_args!(
                "`{key}` must be one of {}, or `off`",
                list(LEVELS.iter().filter_map(|(n, l)| l.map(|_| *n)))
            ),
        );
    }
    found.map(|(_, level)| *level)
}

fn crate_path(cx: &mut Ctxt, lit: &Expr) -> Option<Path> {
    match lit {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => match s.parse::<Path>() {
            Ok(path) => Some(path),
            Err(_) => {
                cx.error(
                    s.span(),
                    "`crate` must name a path, e.g. `crate = \"my_crate::politely\"`",
                );
                None
            }
        },
        other => {
            cx.error(
                other.span(),
                "`crate` takes a string literal, e.g. `crate = \"my_crate::politely\"`",
            );
            None
        }
    }
}

/// A literal number, with its sign.
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    pub(crate) fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// The number an expression spells, if it is a (negated) numeric literal; `Some(Err)` for a
/// literal that is not a number.
pub(crate) fn number(expr: &Expr) -> Option<Result<Number, ()>> {
    let (neg, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, lit),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
            Expr::Lit(ExprLit { lit, .. }) => (true, lit),
            _ => return None,
        },
        _ => return None,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    Some(match lit {
        // Past `i128`, an integer is still an integer: saturated, for the range checks.
        Lit::Int(i) => Ok(Number::Int(match i.base10_parse::<i128>() {
            Ok(v) if neg => -v,
            Ok(v) => v,
            Err(_) if neg => i128::MIN,
            Err(_) => i128::MAX,
        })),
        Lit::Float(f) => f
            .base10_parse::<f64>()
            .map(|v| Number::Float(sign * v))
            .map_err(drop),
        _ => Err(()),
    })
}
