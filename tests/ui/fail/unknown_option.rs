use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server(name = "s")]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }
}

fn main() {}
