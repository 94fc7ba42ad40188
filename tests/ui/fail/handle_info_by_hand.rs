use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    fn handle_info(&mut self, message: u8) {
        let _ = message;
    }
}

fn main() {}
