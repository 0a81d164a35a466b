use politely::backoff;

fn log_attempt(tries: u32) {
    println!("{tries}");
}

#[backoff(expo, max_tries = 3, on_backoff = log_attempt)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
