use politely::backoff;

struct Pool(Vec<u32>);

impl Pool {
    #[backoff(expo, max_tries = 3)]
    async fn free_slot(&mut self) -> Option<&mut u32> {
        self.0.iter_mut().find(|x| **x == 0)
    }
}

fn main() {}
