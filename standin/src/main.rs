//! `standin`: the stand-in Messages API on its own, for several clients at once.
//!
//! ```text
//! cargo run -p backoff-standin -- [--addr 127.0.0.1:8000] [--rate R] [--burst B]
//!     [--no-retry-after] [--rate-headers off|ietf|x] [--rate-schedule T:RATE,...]
//!     [--no-limit | --nginx 'RATEr/s [burst=N] [nodelay]']
//!     [--fault KIND=P]... [--fault-seed N]
//! ```
//!
//! `--no-limit` enforces no rate limit at all, for a limiter in front of it to do so: every
//! request is let through. `--nginx '1r/s'` (or `'1r/s burst=5 nodelay'`, as nginx writes
//! `limit_req`) enforces none either, and runs nginx (`NGINX`, else `nginx` on `PATH`, else
//! `/usr/sbin/nginx`) on a free loopback port in front of it with that `limit_req`, which
//! answers 429 with no `Retry-After`; it prints `NGINX_URL=...` for the clients,
//! `STANDIN_URL=...` (the stand-in itself, for `GET /stats`) and `NGINX_ACCESS_LOG=...`, and
//! stops nginx on Ctrl-C or SIGTERM. `--rate`, `--burst` and the other flags of the limit
//! then do nothing.
//!
//! `--rate-headers ietf` adds `RateLimit-Policy: "default";q=Q;w=W` and
//! `RateLimit: "default";r=R;t=T` to every answer that passed the token bucket (202 and 429
//! alike), `--rate-headers x` `X-RateLimit-Limit: Q`, `X-RateLimit-Remaining: R` and
//! `X-RateLimit-Reset: T` (delay-seconds); off by default. `--rate-schedule 20:1` drops the
//! rate to 1 request/s 20 s after the first message request; several changes go in time
//! order, `10:2,30:0.5`.
//!
//! Prints `VONAGE_APPLICATION_ID=...` (and, when `VONAGE_PRIVATE_KEY` is unset, the path of
//! the throwaway private key it made, `VONAGE_PRIVATE_KEY=...`) and its URL, then serves until
//! stopped. Point the example at it with `--base-url` and those two variables.

use std::process::ExitCode;

use backoff_standin::nginx::LimitReq;
use backoff_standin::{
    Config, DEFAULT_APPLICATION_ID, Fault, Faults, RateHeaders, RateSchedule, serve_behind_nginx,
    serve_only,
};

const USAGE: &str = "usage: standin [--addr ADDR] [--rate R] [--burst B] [--no-retry-after] \
[--rate-headers off|ietf|x] [--rate-schedule T:RATE,...] \
[--no-limit | --nginx 'RATEr/s [burst=N] [nodelay]'] \
[--fault accept-then-drop=P|slow=P:SECONDS|reset=P|500=P|503=P]... [--fault-seed N]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let mut addr = "127.0.0.1:8000".to_owned();
    let (mut rate, mut burst, mut retry_after) = (1.0, 1, true);
    let (mut faults, mut seed) = (Vec::new(), 0u64);
    let (mut rate_headers, mut rate_schedule) = (RateHeaders::Off, RateSchedule::none());
    let (mut enforce_limit, mut nginx) = (true, None::<LimitReq>);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-retry-after" {
            retry_after = false;
            continue;
        }
        if flag == "--no-limit" {
            enforce_limit = false;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}\n{USAGE}");
        match flag.as_str() {
            "--addr" => addr = value,
            "--rate" => rate = value.parse().map_err(|e| bad(&e))?,
            "--burst" => burst = value.parse().map_err(|e| bad(&e))?,
            "--fault" => faults.push(value.parse::<Fault>().map_err(|e| bad(&e))?),
            "--fault-seed" => seed = value.parse().map_err(|e| bad(&e))?,
            "--rate-headers" => rate_headers = value.parse().map_err(|e| bad(&e))?,
            "--rate-schedule" => rate_schedule = value.parse().map_err(|e| bad(&e))?,
            "--nginx" => nginx = Some(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if !(rate > 0.0 && f64::is_finite(rate)) {
        return Err(format!("--rate must be a positive number\n{USAGE}"));
    }
    let addr = addr
        .parse()
        .map_err(|e| format!("--addr {addr:?}: {e}\n{USAGE}"))?;
    let config = Config {
        application_id: std::env::var("VONAGE_APPLICATION_ID")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_APPLICATION_ID.to_owned()),
        public_key_pem: String::new(),
        enforce_limit: enforce_limit && nginx.is_none(),
        rate,
        burst,
        retry_after,
        rate_headers,
        rate_schedule,
        faults: Faults::new(faults, seed)?,
    };
    match nginx {
        Some(limit) => serve_behind_nginx(addr, config, limit).await,
        None => serve_only(addr, config).await,
    }
    .map_err(|e| e.to_string())
}
