use politely::{Feedback, backoff};

#[backoff(expo, rate = adaptive, observe = |status: u16| if status == 429 { Feedback::throttled() } else { Feedback::accepted() })]
async fn send() -> Result<u16, String> {
    Ok(200)
}

fn main() {}
