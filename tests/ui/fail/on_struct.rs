use politely::backoff;

#[backoff(expo)]
struct Client {
    url: String,
}

fn main() {
    let _ = Client { url: String::new() }.url;
}
