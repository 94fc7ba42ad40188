use ferrotp::{gen_server, ExitReason};

struct Ping;

#[gen_server]
impl Ping {
    async fn init() -> Result<Self, ExitReason> {
        Ok(Ping)
    }

    #[call]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

fn main() {
    let _start = Ping::start();
}
