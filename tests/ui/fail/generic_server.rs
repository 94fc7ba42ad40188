use ferrotp::{gen_server, ExitReason};

struct S<T>(T);

#[gen_server]
impl<T: Send + 'static> S<T> {
    fn init(t: T) -> Result<Self, ExitReason> {
        Ok(S(t))
    }
}

fn main() {}
