use ferrotp::gen_server::ReplyTo;
use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[cast]
    fn put(&mut self, reply: ReplyTo<u8>) {
        let _ = reply;
    }
}

fn main() {}
