use politely::{Feedback, Pacer, RateFeedback, backoff};

#[derive(Debug)]
struct Sent;

#[derive(Debug)]
struct Refused;

impl RateFeedback for Sent {
    fn feedback(&self) -> Feedback {
        Feedback::accepted()
    }
}

impl RateFeedback for Refused {
    fn feedback(&self) -> Feedback {
        Feedback::throttled()
    }
}

async fn deliver(_from: &str) -> Result<Sent, Refused> {
    Ok(Sent)
}

/// One learned rate per sender: every attempt's outcome tells the pacer how it went (the
/// output is `RateFeedback`) before it is judged; the key is computed once per attempt.
#[backoff(expo, max_tries = 5, rate = adaptive, rate_key = from)]
async fn send(from: &str) -> Result<Sent, Refused> {
    deliver(from).await
}

struct Client {
    pacer: Pacer,
}

impl Client {
    /// The client's own pacer, told by a closure what the output means.
    #[backoff(constant, interval = 1, max_tries = 3, pacer = self.pacer,
              observe = |ok: &bool| if *ok { Feedback::accepted() } else { Feedback::throttled() })]
    fn ping(&self) -> bool {
        true
    }
}
