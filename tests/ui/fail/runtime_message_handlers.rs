use ferrotp::{gen_server, ExitReason, Pid};

struct S;

#[gen_server]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[down]
    fn on_down(&mut self, who: Pid) {
        let _ = who;
    }

    #[exit]
    fn on_exit(&mut self) {}

    #[timeout]
    fn on_idle(&mut self, after: u64) {
        let _ = after;
    }

    #[timeout]
    fn again(&mut self) {}
}

fn main() {}
