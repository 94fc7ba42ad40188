use ferrotp::{gen_server, ExitReason};

struct Ping;

// Messages and client as visible as the type itself.
#[gen_server(vis = pub(crate))]
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
