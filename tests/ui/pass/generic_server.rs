use ferrotp::{gen_server, ExitReason};

struct S<T>(T);

#[gen_server]
impl<T: Send + 'static> S<T> {
    fn init(t: T) -> Result<Self, ExitReason> {
        Ok(S(t))
    }
}

/// A type parameter no message mentions still makes well-formed message enums.
struct Tagged<K> {
    count: u32,
    kind: std::marker::PhantomData<K>,
}

#[gen_server]
impl<K: Send + 'static> Tagged<K> {
    fn init() -> Result<Self, ExitReason> {
        Ok(Tagged { count: 0, kind: std::marker::PhantomData })
    }

    #[call]
    fn count(&self) -> u32 {
        self.count
    }
}

fn main() {
    let _s = S::start(1u8);
    let _t = Tagged::<String>::start();
}
