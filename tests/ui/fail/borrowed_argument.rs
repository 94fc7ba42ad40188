use ferrotp::{gen_server, ExitReason};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[call]
    fn find(&self, key: &str) -> bool {
        key.is_empty()
    }
}

fn main() {}
