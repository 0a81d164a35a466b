use politely::backoff;

#[backoff(expo, pacer = politely::Pacer::redis("redis://127.0.0.1/", "sms", 2.0, 2).unwrap())]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
