use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server(vsn = "1", vsn = "2", mailbox_capacity = 0)]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }
}

fn main() {}
