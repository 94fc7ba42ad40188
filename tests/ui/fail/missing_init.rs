use ferrotp::gen_server;

struct NoInit;

#[gen_server]
impl NoInit {
    #[call]
    fn get(&self) -> u8 {
        0
    }
}

fn main() {}
