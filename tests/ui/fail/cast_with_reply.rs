use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[cast]
    fn put(&mut self, n: u8) -> u8 {
        n
    }
}

fn main() {}
