use politely::backoff;

struct Sender {
    number: u64,
}

#[backoff(expo, rate = 1 per second, rate_key = sender)]
fn send(sender: &Sender, text: &str) -> Result<(), String> {
    let _ = (sender.number, text);
    Ok(())
}

fn main() {}
