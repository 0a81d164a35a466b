use politely::backoff;

#[backoff(expo, max_tries = 3)]
fn ping() {
    println!("ping");
}

fn main() {}
