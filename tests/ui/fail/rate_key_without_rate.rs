use politely::backoff;

#[backoff(expo, rate_key = sender)]
async fn send(sender: &str) -> Result<(), ()> {
    let _ = sender;
    Ok(())
}

fn main() {}
