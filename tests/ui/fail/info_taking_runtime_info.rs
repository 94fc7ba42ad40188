use ferrotp::gen_server::Info;
use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[info]
    fn on(&mut self, info: Info<u8>) {
        let _ = info;
    }
}

fn main() {}
