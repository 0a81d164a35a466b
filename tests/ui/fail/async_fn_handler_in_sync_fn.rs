use backoff::backoff;

async fn notify(details: &backoff::Details<'_, Result<u32, String>>) {
    println!("{}", details.tries);
}

#[backoff(expo, max_tries = 3, on_giveup = notify)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
