use ferrotp::abi::hot_interface;

#[hot_interface(module = "m")]
pub trait OnlyCasts {
    #[cast]
    fn add(&mut self, n: u64);
}

fn main() {}
