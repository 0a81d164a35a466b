use politely::backoff;

// `pacer` is evaluated once per call: a pacer made there is new for every call, and ten
// concurrent calls would each get one and all go at once.
#[backoff(expo, pacer = politely::Pacer::per_second(2.0))]
async fn send() -> Result<(), ()> {
    Ok(())
}

fn main() {}
