use ferrotp::{gen_server, ExitReason};

struct Cache<T> {
    items: Vec<T>,
}

#[gen_server(remote)]
impl<T: Clone + Send + 'static> Cache<T> {
    fn init() -> Result<Self, ExitReason> {
        Ok(Cache { items: Vec::new() })
    }

    #[call]
    fn len(&self) -> usize {
        self.items.len()
    }
}

fn main() {}
