use ferrotp::abi::hot_interface;

#[hot_interface(args = u64)]
pub trait M {
    fn get(&self) -> u64;
}

fn main() {}
