use politely::backoff;

async fn notify(details: &politely::Details<'_, Result<u32, String>>) {
    println!("{}", details.tries);
}

#[backoff(expo, max_tries = 3, on_giveup = notify)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
