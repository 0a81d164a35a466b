use backoff::backoff;

#[backoff(expo, observe = |ok: &bool| if *ok { backoff::Feedback::accepted() } else { backoff::Feedback::throttled() })]
fn send() -> bool {
    true
}

fn main() {}
