//! A fn that never returns has no outcome to judge: one message, on the `!` (rustc's "the `!`
//! type is experimental" came first, from the expansion).
use politely::backoff;

#[backoff(max_tries = 2)]
fn serve() -> ! {
    loop {}
}

fn main() {}
