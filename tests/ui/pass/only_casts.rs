use ferrotp::{gen_server, ExitReason};

struct Sink {
    total: u64,
}

#[gen_server]
impl Sink {
    fn init(start: u64) -> Result<Self, ExitReason> {
        Ok(Sink { total: start })
    }

    #[cast]
    async fn put(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {
    let _spec = Sink::child_spec(0u64).id("sink");
}
