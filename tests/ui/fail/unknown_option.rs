use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server(label = "s")]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }
}

fn main() {}
