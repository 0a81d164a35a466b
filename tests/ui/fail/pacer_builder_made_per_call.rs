use politely::{backoff, redis};

#[backoff(expo, pacer = politely::RedisPacerBuilder::new(client.clone(), "sms", 2.0, 1).burst(2).build())]
async fn send(client: &redis::Client) -> Result<(), ()> {
    let _ = client;
    Ok(())
}

fn main() {}
