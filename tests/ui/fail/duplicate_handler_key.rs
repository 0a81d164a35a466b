use politely::backoff;

fn log<R>(_: &politely::Details<'_, R>) {}

#[backoff(expo, on_backoff = log, on_backoff = [log, log])]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
