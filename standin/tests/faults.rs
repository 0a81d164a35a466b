//! The stand-in's faults on the wire: a reset is a TCP RST (the client reads `ECONNRESET`, not
//! a clean end of stream), taken after or before the message is sent on as the fault says;
//! a 503 carries `Retry-After`; `GET /stats` serves the counts.

use std::time::{SystemTime, UNIX_EPOCH};

use backoff_standin::{Config, Fault, Faults, StandIn, Stats};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP: &str = "11111111-2222-4333-8444-555555555555";

async fn server(fault: Fault) -> (StandIn, String) {
    let private = backoff_standin::generate_private_key_pem().unwrap();
    let config = Config {
        application_id: APP.to_owned(),
        public_key_pem: backoff_standin::public_key_pem(&private).unwrap(),
        enforce_limit: true,
        rate: 1000.0,
        burst: 100,
        retry_after: true,
        rate_headers: Default::default(),
        rate_schedule: Default::default(),
        faults: Faults::new(vec![fault], 1).unwrap(),
    };
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({ "application_id": APP, "iat": iat, "exp": iat + 60, "jti": "j1" }),
        &EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    )
    .unwrap();
    (StandIn::start(config).await.unwrap(), token)
}

/// One raw HTTP/1.1 message request; what the socket then reads.
async fn post(server: &StandIn, token: &str) -> std::io::Result<String> {
    let body = json!({
        "from": { "type": "sms", "number": "447700900000" },
        "to": { "type": "sms", "number": "447700900001" },
        "message": { "content": { "type": "text", "text": "hi" } },
        "client_ref": "key-1",
    })
    .to_string();
    let request = format!(
        "POST /v0.1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: \"key-1\"\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(server.addr()).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn accept_then_drop_sends_on_then_resets() {
    let (server, token) = server(Fault::AcceptThenDrop(1.0)).await;
    let read = post(&server, &token).await;
    assert_eq!(
        read.as_ref().map_err(std::io::Error::kind).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    let st = server.stats();
    assert_eq!((st.delivered, st.accept_then_drop), (1, 1), "{st:?}");
    // The header's structured-field string, unquoted.
    assert_eq!(server.deliveries()[0].key.as_deref(), Some("key-1"));
    // The retry with the same key is a replay (dropped too), not a second message.
    let _ = post(&server, &token).await;
    let st = server.stats();
    assert_eq!((st.delivered, st.replayed), (1, 1), "{st:?}");
}

#[tokio::test]
async fn reset_resets_before_sending_on() {
    let (server, token) = server(Fault::Reset(1.0)).await;
    let read = post(&server, &token).await;
    assert_eq!(
        read.as_ref().map_err(std::io::Error::kind).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    let st = server.stats();
    assert_eq!((st.delivered, st.reset), (0, 1), "{st:?}");
}

#[tokio::test]
async fn unavailable_says_when_to_come_back_and_stats_are_served() {
    let (server, token) = server(Fault::Status503(1.0)).await;
    let answer = post(&server, &token).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{answer}"
    );
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let served: Stats = serde_json::from_str(body).unwrap();
    assert_eq!(served, server.stats());
    assert_eq!((served.status_503, served.delivered), (1, 0));
}
