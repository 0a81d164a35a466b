use politely::backoff;

#[backoff(expo, observe = |ok: &bool| if *ok { politely::Feedback::accepted() } else { politely::Feedback::throttled() })]
fn send() -> bool {
    true
}

fn main() {}
