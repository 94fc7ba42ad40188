use std::rc::Rc;

use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[cast]
    fn keep(&mut self, shared: Rc<u8>) {
        let _ = shared;
    }
}

fn main() {}
