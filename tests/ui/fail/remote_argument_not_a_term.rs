use ferrotp::{gen_server, ExitReason};

/// Not `serde`: cannot travel between nodes.
#[derive(Debug)]
struct Opaque;

struct S;

#[gen_server(remote)]
impl S {
    fn init() -> Result<Self, ExitReason> {
        Ok(S)
    }

    #[call]
    fn take(&self, _o: Opaque) -> bool {
        true
    }
}

fn main() {}
