use politely::backoff;

#[backoff(expo, max_tries = 3)]
fn first_big<'a>(v: &'a mut Vec<u32>) -> Option<&'a mut u32> {
    v.iter_mut().find(|x| **x > 10)
}

fn main() {}
