use politely::{Details, backoff};

#[derive(Debug)]
enum SmsError {
    RateLimited,
    Server(u16),
    Rejected(u16),
}

async fn post(_to: &str) -> Result<(), SmsError> {
    Ok(())
}

fn log_wait(d: &Details<'_, Result<(), SmsError>>) {
    eprintln!("try {} failed; waiting {:?}", d.tries, d.wait);
}

#[backoff(expo, max_time = 300, jitter = full,
          on = error(SmsError::RateLimited | SmsError::Server(_)),
          on_backoff = log_wait)]
async fn send_sms(to: &str) -> Result<(), SmsError> {
    post(to).await
}
