use ferrotp::abi::hot_interface;

#[hot_interface(module = "m")]
pub trait M {
    fn get(&self) -> u64;
    #[cast]
    fn add(&mut self, n: u64) -> u64;
}

fn main() {}
