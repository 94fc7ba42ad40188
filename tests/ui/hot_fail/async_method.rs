use ferrotp::abi::hot_interface;

#[hot_interface(module = "m")]
pub trait M {
    async fn get(&self) -> u64;
}

fn main() {}
