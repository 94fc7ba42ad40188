use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[info]
    fn a(&mut self, _m: u8) {}

    #[info]
    fn b(&mut self, _m: u16) {}
}

fn main() {}
