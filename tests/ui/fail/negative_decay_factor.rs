use politely::backoff;

#[backoff(decay, decay_factor = -0.5)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
