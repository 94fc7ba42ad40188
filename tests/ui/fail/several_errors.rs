use ferrotp::gen_server;

struct S;

// Every mistake is reported at once.
#[gen_server]
impl S {
    #[call]
    #[cast]
    fn both(&self) {}

    #[call]
    fn start(&self) -> u8 {
        0
    }
}

fn main() {}
