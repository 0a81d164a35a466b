use politely::backoff;

#[backoff(expo, max_time = 10, clock = || 5u32)]
fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
