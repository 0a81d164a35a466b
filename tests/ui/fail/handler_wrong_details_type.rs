use politely::backoff;

fn log_attempt(details: &politely::Details<'_, Option<u32>>) {
    println!("{}", details.tries);
}

#[backoff(expo, max_tries = 3, on_giveup = log_attempt)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
