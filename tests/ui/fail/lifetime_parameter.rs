use ferrotp::{gen_server, ExitReason};

struct S<'a>(&'a str);

#[gen_server]
impl<'a> S<'a> {
    fn init() -> Result<Self, ExitReason> {
        Ok(S(""))
    }
}

fn main() {}
