use ferrotp::abi::{hot_interface, Host};

#[hot_interface(module = "m", colour = "blue")]
pub trait M<T> {
    fn get(&self) -> u64 {
        1
    }
    #[cast]
    fn add(&self, n: u64);
    #[cast]
    fn put(&mut self, host: &mut Host<'_, MInterface>, n: u64);
    const LIMIT: u32;
}

fn main() {}
