//! Reading the rate-limit fields of a response into [`Hints`] (the families and rules are in
//! the module documentation).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Hints, Quota, parse_retry_after};

impl Hints {
    /// Reads the fields of one response: `(name, value)` pairs, names in any case, a name
    /// repeated for a field split over several lines. `now` dates `Retry-After` and reset
    /// timestamps.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use backoff_core::Hints;
    ///
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let hints = Hints::from_fields(
    ///     &[
    ///         ("x-ratelimit-limit", "5000"),
    ///         ("x-ratelimit-remaining", "4999"),
    ///         ("x-ratelimit-reset", "1700003600"), // a timestamp: an hour from now
    ///     ],
    ///     now,
    /// );
    /// assert_eq!(hints.limit.map(|q| q.count), Some(5000));
    /// assert_eq!(hints.remaining, Some(4999));
    /// assert_eq!(hints.reset, Some(Duration::from_secs(3600)));
    /// ```
    pub fn from_fields<'a, I, N, V>(fields: I, now: SystemTime) -> Self
    where
        I: IntoIterator<Item = &'a (N, V)>,
        N: AsRef<str> + 'a,
        V: AsRef<str> + 'a,
    {
        let mut f = Fields::default();
        for (name, value) in fields {
            let value = value.as_ref();
            let slot = match name.as_ref().trim().to_ascii_lowercase().as_str() {
                "ratelimit-policy" => &mut f.policy,
                "ratelimit" => &mut f.ratelimit,
                "ratelimit-limit" => &mut f.limit,
                "ratelimit-remaining" => &mut f.remaining,
                "ratelimit-reset" => &mut f.reset,
                "x-ratelimit-limit" | "x-rate-limit-limit" => &mut f.x_limit,
                "x-ratelimit-remaining" | "x-rate-limit-remaining" => &mut f.x_remaining,
                "x-ratelimit-reset" | "x-rate-limit-reset" => &mut f.x_reset,
                "retry-after" => {
                    if f.retry_after.is_none() {
                        f.retry_after = parse_retry_after(value, now);
                    }
                    continue;
                }
                _ => continue,
            };
            // A field split over several lines is one list (RFC 9651, section 3.1).
            if !slot.is_empty() {
                slot.push(',');
            }
            slot.push_str(value);
        }
        f.hints(now)
    }

    /// Reads an `http::HeaderMap` (see [`Hints::from_fields`]); values that are not text are
    /// skipped.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let fields: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        Hints::from_fields(&fields, SystemTime::now())
    }
}

/// The raw values of the fields read, each repeated field joined into one list.
#[derive(Default)]
struct Fields {
    policy: String,
    ratelimit: String,
    limit: String,
    remaining: String,
    reset: String,
    x_limit: String,
    x_remaining: String,
    x_reset: String,
    retry_after: Option<Duration>,
}

/// One policy of `RateLimit-Policy`.
struct Policy {
    name: Option<String>,
    quota: Quota,
}

/// One item of `RateLimit`: `r` units left in the next `t`.
struct Service {
    name: Option<String>,
    remaining: u64,
    reset: Option<Duration>,
}

impl Fields {
    fn hints(&self, now: SystemTime) -> Hints {
        let (policies, skipped) = policies(&self.policy);
        let mut services = Vec::new();
        let mut dict = Hints::default();
        for m in members(&self.ratelimit) {
            match &m.head {
                // draft-07: `limit=100, remaining=50, reset=30`.
                Head::Pair(key, value) => {
                    let n = value.count();
                    match key.as_str() {
                        "limit" => dict.limit = dict.limit.or(n.map(|count| quota(count, None))),
                        "remaining" => dict.remaining = dict.remaining.or(n),
                        "reset" => dict.reset = dict.reset.or(value.seconds()),
                        _ => {}
                    }
                }
                Head::Item(item) => {
                    let name = item.name();
                    if name.as_ref().is_some_and(|n| skipped.contains(n)) {
                        continue;
                    }
                    let Some(remaining) = m.param("r").and_then(Bare::count) else {
                        continue;
                    };
                    let reset = m.param("t").and_then(Bare::seconds);
                    services.push(Service {
                        name,
                        remaining,
                        reset,
                    });
                }
            }
        }
        // The most restrictive service limit: fewest units left, then the longest wait.
        let service = services
            .into_iter()
            .min_by(|a, b| a.remaining.cmp(&b.remaining).then(b.reset.cmp(&a.reset)));
        // The most restrictive quota: the smallest known rate, else the policy that the
        // service limit names, else the first.
        let limit = policies
            .iter()
            .filter(|p| p.quota.rate().is_some())
            .min_by(|a, b| {
                let (ra, rb) = (a.quota.rate(), b.quota.rate());
                ra.partial_cmp(&rb).unwrap_or(std::cmp::Ordering::Equal)
            })
            .or_else(|| {
                let named = service.as_ref().and_then(|s| s.name.as_ref());
                policies
                    .iter()
                    .find(|p| named.is_some() && p.name.as_ref() == named)
            })
            .or(policies.first())
            .map(|p| p.quota);

        // Drafts 00-06: three fields.
        // `10, 10;w=1`: the limit, then quota policies, one of which may give its window.
        let old = members(&self.limit);
        let old_limit = old.first().and_then(|m| {
            let Head::Item(item) = &m.head else {
                return None;
            };
            let count = item.count()?;
            let window = old
                .iter()
                .filter(|p| matches!(&p.head, Head::Item(i) if i.count() == Some(count)))
                .find_map(|p| p.param("w").and_then(Bare::seconds));
            Some(quota(count, window))
        });
        let old_remaining = single(&self.remaining).and_then(|b| b.count());
        let old_reset = single(&self.reset).and_then(|b| b.seconds());
        let x_limit = single(&self.x_limit)
            .and_then(|b| b.count())
            .map(|c| quota(c, None));
        let x_remaining = single(&self.x_remaining).and_then(|b| b.count());
        let x_reset = x_reset(&self.x_reset, now);

        Hints {
            limit: limit.or(dict.limit).or(old_limit).or(x_limit),
            remaining: service
                .as_ref()
                .map(|s| s.remaining)
                .or(dict.remaining)
                .or(old_remaining)
                .or(x_remaining),
            reset: service
                .and_then(|s| s.reset)
                .or(dict.reset)
                .or(old_reset)
                .or(x_reset),
            retry_after: self.retry_after,
        }
    }
}

fn quota(count: u64, window: Option<Duration>) -> Quota {
    Quota { count, window }
}

/// Parses `RateLimit-Policy`: the request-counting policies, and the names of the others.
fn policies(value: &str) -> (Vec<Policy>, Vec<String>) {
    let mut policies = Vec::new();
    let mut skipped = Vec::new();
    for m in members(value) {
        let Head::Item(item) = &m.head else { continue };
        let name = item.name();
        let window = m.param("w").and_then(Bare::seconds);
        // draft-07: `100;w=60`, the quota as the item.
        let count = match item {
            Bare::Integer(_) | Bare::Decimal(_) => item.count(),
            _ => m.param("q").and_then(Bare::count),
        };
        let unit = m.param("qu").and_then(Bare::text);
        if unit.is_some_and(|u| !u.eq_ignore_ascii_case("requests") && u != "request") {
            skipped.extend(name);
            continue;
        }
        if let Some(count) = count {
            policies.push(Policy {
                name,
                quota: quota(count, window.filter(|w| !w.is_zero())),
            });
        }
    }
    (policies, skipped)
}

/// The first member's item of a field holding one value (`X-RateLimit-Remaining: 10`).
fn single(value: &str) -> Option<Bare> {
    members(value).into_iter().find_map(|m| match m.head {
        Head::Item(item) => Some(item),
        Head::Pair(..) => None,
    })
}

/// Smallest value read as a Unix timestamp in seconds; from here on in milliseconds.
const EPOCH_SECONDS: f64 = 1e9;
const EPOCH_MILLIS: f64 = 1e12;

/// `X-RateLimit-Reset`: delay-seconds, a Unix timestamp in seconds or milliseconds, or an
/// HTTP-date (see the module docs for how they are told apart).
fn x_reset(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(at) = httpdate::parse_http_date(value.trim()) {
        return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    let text = value.split(',').next()?.trim();
    if let Ok(n) = text.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        let since = |secs: f64| {
            let at = UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(secs).ok()?)?;
            Some(at.duration_since(now).unwrap_or(Duration::ZERO))
        };
        return if n >= EPOCH_MILLIS {
            since(n / 1000.0)
        } else if n >= EPOCH_SECONDS {
            since(n)
        } else {
            Duration::try_from_secs_f64(n).ok()
        };
    }
    None
}

// ---- A lenient reader for the structured-field lists of RFC 9651 ----

/// A bare item. Byte sequences, booleans, dates and inner lists are kept only as `Other`:
/// nothing read here needs their value.
#[derive(Clone, Debug, PartialEq)]
enum Bare {
    Integer(i64),
    Decimal(f64),
    String(String),
    Token(String),
    Other,
}

impl Bare {
    fn parse(text: &str) -> Bare {
        let text = text.trim();
        let Some(first) = text.chars().next() else {
            return Bare::Other;
        };
        match first {
            '"' => unquote(text).map_or(Bare::Other, Bare::String),
            '-' | '0'..='9' => {
                if let Ok(n) = text.parse::<i64>() {
                    Bare::Integer(n)
                } else {
                    match text.parse::<f64>() {
                        Ok(d) if d.is_finite() && !text.contains(['e', 'E', 'i', 'n']) => {
                            Bare::Decimal(d)
                        }
                        _ => Bare::Other,
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '*' => {
                if text
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '"' | '='))
                {
                    Bare::Token(text.to_owned())
                } else {
                    Bare::Other
                }
            }
            _ => Bare::Other,
        }
    }

    /// A non-negative whole count (a decimal is tolerated and rounded down).
    fn count(&self) -> Option<u64> {
        match *self {
            Bare::Integer(n) => u64::try_from(n).ok(),
            // Below 2^64: a count, not junk.
            Bare::Decimal(d) if (0.0..18_446_744_073_709_551_616.0).contains(&d) => Some(d as u64),
            _ => None,
        }
    }

    /// A non-negative number of seconds (the draft says integer; a fraction is tolerated).
    fn seconds(&self) -> Option<Duration> {
        match *self {
            Bare::Integer(n) => u64::try_from(n).ok().map(Duration::from_secs),
            Bare::Decimal(d) if d >= 0.0 => Duration::try_from_secs_f64(d).ok(),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Bare::String(s) | Bare::Token(s) => Some(s),
            _ => None,
        }
    }

    /// A policy's name: a string (the draft) or a token (tolerated).
    fn name(&self) -> Option<String> {
        self.text().map(str::to_owned)
    }
}

/// A list member: an item or a dictionary `key=value` (draft-07), then parameters.
struct Member {
    head: Head,
    params: Vec<(String, Bare)>,
}

enum Head {
    Item(Bare),
    Pair(String, Bare),
}

impl Member {
    fn param(&self, key: &str) -> Option<&Bare> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Splits a list into members and each member into its head and parameters, skipping empty
/// members. Commas and semicolons inside strings do not split.
fn members(value: &str) -> Vec<Member> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter(|m| !m.trim().is_empty())
        .map(|m| {
            let mut parts = split_outside_quotes(m, ';').into_iter();
            let head = parts.next().unwrap_or_default();
            let head = match key_value(head) {
                Some((key, value)) => Head::Pair(key, value),
                None => Head::Item(Bare::parse(head)),
            };
            let params = parts
                .filter_map(|p| {
                    let p = p.trim();
                    if p.is_empty() {
                        return None;
                    }
                    Some(key_value(p).unwrap_or_else(|| (p.to_ascii_lowercase(), Bare::Other)))
                })
                .collect();
            Member { head, params }
        })
        .collect()
}

/// `key=value` with a key of letters, digits, `_ - . *` (case-folded: lenient), or `None`.
fn key_value(text: &str) -> Option<(String, Bare)> {
    let text = text.trim();
    let eq = text.find('=')?;
    let (key, value) = (&text[..eq], &text[eq + 1..]);
    let key = key.trim();
    let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '*')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*'));
    valid.then(|| (key.to_ascii_lowercase(), Bare::parse(value)))
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A whole quoted string with `\"` and `\\` escapes, or `None`.
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().filter(|c| matches!(c, '"' | '\\'))?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
