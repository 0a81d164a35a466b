use politely::backoff;

#[backoff(expo, fibo, max_trys = 5, max_time = 0, jitter = fulll, on = exception, interval = 2)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
