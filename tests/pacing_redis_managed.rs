//! A managed Redis: a password or an ACL user in the URL, and TLS (`rediss://`, feature
//! `redis-tls`) to a server whose certificate a private CA signed.
//!
//! The server is the one `.ci/run` starts: TLS with a CA and a certificate for 127.0.0.1 made
//! on the fly, `requirepass`, a plain port and a TLS port. The tests find it through
//! `REDIS_MANAGED_URL` (the plain port, password in the URL), `REDIS_MANAGED_TLS_URL` (the TLS
//! port, password in the URL) and `REDIS_MANAGED_CA` (the CA's PEM file). Without them the
//! tests pass with one "skipped" line, except under CI (`CI=true`), where they fail.
//!
//! Each test checks on the server's side that the pacer's budget reached Redis (its key
//! exists), so a pacer that silently paced locally (the outage fallback) fails it.
#![cfg(feature = "redis-tls")]

use std::time::Duration;

use politely::redis::{self, AsyncCommands};
use politely::{Pacer, RedisPacerBuilder};

const HOW: &str = "run `bash .ci/run`, which starts a TLS redis-server with a password and sets \
    REDIS_MANAGED_URL, REDIS_MANAGED_TLS_URL and REDIS_MANAGED_CA; or start one yourself (see \
    .ci/run) and set them";

struct Managed {
    /// `redis://:<password>@127.0.0.1:<port>/`
    url: String,
    /// `rediss://:<password>@127.0.0.1:<port>/`
    tls_url: String,
    /// The CA that signed the server's certificate, PEM.
    ca: Vec<u8>,
}

fn managed() -> Option<Managed> {
    let vars = (
        std::env::var("REDIS_MANAGED_URL"),
        std::env::var("REDIS_MANAGED_TLS_URL"),
        std::env::var("REDIS_MANAGED_CA"),
    );
    match vars {
        (Ok(url), Ok(tls_url), Ok(ca)) => Some(Managed {
            url,
            tls_url,
            ca: std::fs::read(&ca).unwrap_or_else(|e| panic!("REDIS_MANAGED_CA={ca}: {e}")),
        }),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("no managed redis-server: under CI these tests must run; {HOW}")
        }
        _ => {
            eprintln!("pacing_redis_managed: tests skipped (no managed redis-server); {HOW}");
            None
        }
    }
}

/// One attempt a minute, 100 at once: the calls below never wait, and the budget's key lives
/// for minutes (a budget expires a few intervals after its last slot; at 1,000/s its key would
/// be gone before it could be looked for).
const MINUTE: Duration = Duration::from_secs(60);
const BURST: u32 = 100;

/// Connection and response timeouts for a machine busy with other TLS handshakes (20 copies
/// of this binary at once): the tests are about reaching Redis, not about how fast.
fn patient() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_response_timeout(Some(Duration::from_secs(10)))
}

/// A pacer on the budget `name` at `client`, as `Pacer::redis_with_burst(url, ..)` makes one
/// from `redis::Client::open(url)`, with a per-call timeout (also the connection's) long
/// enough for a busy machine's TLS handshake.
fn pacer(client: redis::Client, name: &str) -> Pacer {
    RedisPacerBuilder::new(client, name, 1.0, MINUTE)
        .burst(BURST)
        .timeout(5.0)
        .build()
}

/// A budget name of this test run's own.
fn name(what: &str) -> String {
    format!("managed-{what}-{}", std::process::id())
}

/// The TLS client that trusts the test CA.
fn tls_client(m: &Managed) -> redis::Client {
    redis::Client::build_with_tls(
        m.tls_url.as_str(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(m.ca.clone()),
        },
    )
    .expect("a TLS client")
}

/// Takes a slot, then asks over `admin` whether the budget's key exists, every 100 ms for up
/// to 3 s: the first slots may go to the local fallback while the connection (a TLS
/// handshake, AUTH) is still being made, and the pacer tries Redis again every 500 ms.
async fn reached_redis(pacer: &Pacer, admin: &redis::Client, key: &str) -> bool {
    let mut conn = admin
        .get_multiplexed_async_connection_with_config(&patient())
        .await
        .expect("the admin connection");
    for _ in 0..30 {
        pacer.ready(None).await;
        if conn.exists(key).await.expect("EXISTS") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_reaches_redis() {
    let Some(m) = managed() else { return };
    let admin = redis::Client::open(m.url.as_str()).unwrap();
    let budget = name("password");
    let pacer = pacer(redis::Client::open(m.url.as_str()).unwrap(), &budget);
    assert!(
        reached_redis(&pacer, &admin, &format!("backoff:{budget}")).await,
        "the budget is not in Redis: the pacer paced locally"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_outage_not_an_error() {
    let Some(m) = managed() else { return };
    let admin = redis::Client::open(m.url.as_str()).unwrap();
    let (head, tail) = m
        .url
        .split_once('@')
        .expect("a password in REDIS_MANAGED_URL");
    let wrong = format!("{}wrong@{tail}", &head[..head.rfind(':').unwrap() + 1]);
    let budget = name("wrong");
    let pacer = pacer(redis::Client::open(wrong.as_str()).unwrap(), &budget);
    // Every call still goes through, paced locally; nothing reaches Redis.
    assert!(!reached_redis(&pacer, &admin, &format!("backoff:{budget}")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_in_the_url_reaches_redis() {
    let Some(m) = managed() else { return };
    let admin = redis::Client::open(m.url.as_str()).unwrap();
    let user = name("user");
    let password = format!("pw-{}", std::process::id());
    let mut conn = admin
        .get_multiplexed_async_connection_with_config(&patient())
        .await
        .unwrap();
    // A user that may run scripts on its own keys only, as a managed service would hand out.
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("reset")
        .arg("on")
        .arg(format!(">{password}"))
        .arg(format!("~backoff:{user}*"))
        .arg("+@all")
        .query_async(&mut conn)
        .await
        .expect("ACL SETUSER");
    let port = m.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let url = format!("redis://{user}:{password}@127.0.0.1:{port}/");
    let pacer = pacer(redis::Client::open(url.as_str()).unwrap(), &user);
    let reached = reached_redis(&pacer, &admin, &format!("backoff:{user}")).await;
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(reached, "the ACL user's budget is not in Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_servers_ca_reaches_redis() {
    let Some(m) = managed() else { return };
    let budget = name("tls");
    let pacer = pacer(tls_client(&m), &budget);
    // Asked over TLS too: the plain port would answer just the same.
    let admin = tls_client(&m);
    assert!(
        reached_redis(&pacer, &admin, &format!("backoff:{budget}")).await,
        "the budget is not in Redis: the TLS connection failed and the pacer paced locally"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_ca_is_refused_and_paced_locally() {
    let Some(m) = managed() else { return };
    let admin = redis::Client::open(m.url.as_str()).unwrap();
    let budget = name("untrusted");
    // The system's roots do not know the test CA: the handshake fails, an outage like any other.
    let pacer = pacer(redis::Client::open(m.tls_url.as_str()).unwrap(), &budget);
    assert!(!reached_redis(&pacer, &admin, &format!("backoff:{budget}")).await);
}
