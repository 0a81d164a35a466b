//! nginx's `limit_req` in front of a stand-in that enforces no limit (`backoff_standin::nginx`),
//! on the real clock: nginx refuses what its limit says, with `429` and no `Retry-After`, logs
//! each request, and is gone when dropped. Without nginx the tests pass with one "skipped"
//! line, except under CI (`CI=true`), where they fail.

use std::time::{Duration, Instant};

use backoff_standin::nginx::{self, LimitReq, Nginx};
use backoff_standin::{Config, Faults, RateHeaders, RateSchedule, StandIn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn standin() -> StandIn {
    let private = backoff_standin::generate_private_key_pem_with_bits(1024).unwrap();
    StandIn::start(Config {
        application_id: "11111111-2222-4333-8444-555555555555".to_owned(),
        public_key_pem: backoff_standin::public_key_pem(&private).unwrap(),
        enforce_limit: false,
        rate: 1.0,
        burst: 1,
        retry_after: true,
        rate_headers: RateHeaders::Off,
        rate_schedule: RateSchedule::none(),
        faults: Faults::none(),
    })
    .await
    .unwrap()
}

/// `GET /stats` through nginx on a connection of its own: the status and the header.
async fn get(nginx: &Nginx) -> (u16, String) {
    let mut stream = TcpStream::connect(nginx.addr()).await.unwrap();
    stream
        .write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    (head[9..12].parse().unwrap(), head)
}

/// `n` requests one after the other, as fast as they go: their statuses. At 1r/s they take
/// far less than the second after which nginx would let another through.
async fn burst_of(nginx: &Nginx, n: usize) -> Vec<u16> {
    let start = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..n {
        let (status, head) = get(nginx).await;
        if status == 429 {
            assert!(!head.contains("retry-after"), "{head}");
        }
        statuses.push(status);
    }
    assert!(start.elapsed() < Duration::from_secs(1), "{statuses:?}");
    statuses
}

/// No burst: one request a second, the rest refused, with no `Retry-After`; the access log
/// and the error log say so too.
#[tokio::test]
async fn one_per_second_refuses_the_rest() {
    let server = standin().await;
    let Some(nginx) = nginx::start_for_test(server.addr(), LimitReq::per_second(1)) else {
        return;
    };
    assert_eq!(burst_of(&nginx, 4).await, [200, 429, 429, 429]);
    let log = nginx.wait_for_requests(4, Duration::from_secs(2)).unwrap();
    let statuses: Vec<u16> = log.iter().map(|l| l.status).collect();
    assert_eq!(statuses, [200, 429, 429, 429]);
    assert!(log.iter().all(|l| l.method == "GET" && l.uri == "/stats"));
    assert_eq!(nginx.error_log().matches("limiting requests").count(), 3);
}

/// `burst=5 nodelay`: six at once from rest, then refused.
#[tokio::test]
async fn burst_five_nodelay_lets_six_through_at_once() {
    let server = standin().await;
    let limit = LimitReq::per_second(1).burst_nodelay(5);
    let Some(nginx) = nginx::start_for_test(server.addr(), limit) else {
        return;
    };
    assert_eq!(
        burst_of(&nginx, 8).await,
        [200, 200, 200, 200, 200, 200, 429, 429]
    );
    let log = nginx.wait_for_requests(8, Duration::from_secs(2)).unwrap();
    assert_eq!(
        nginx::statuses(&log).into_iter().collect::<Vec<_>>(),
        [(200, 6), (429, 2)]
    );
}

/// Dropped, it stops listening and its directory is gone.
#[tokio::test]
async fn dropped_it_is_gone() {
    let server = standin().await;
    let Some(nginx) = nginx::start_for_test(server.addr(), LimitReq::per_second(1)) else {
        return;
    };
    let (addr, prefix) = (nginx.addr(), nginx.prefix().to_owned());
    assert!(prefix.join("nginx.conf").is_file());
    assert_eq!(get(&nginx).await.0, 200);
    drop(nginx);
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(!prefix.exists());
}
