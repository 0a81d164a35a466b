use politely::backoff;

#[backoff(expo, giveup_log_level = loud)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
