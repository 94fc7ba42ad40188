use ferrotp::abi::{hot_interface, Host, HotModule};

#[hot_interface(module = "kv", args = ())]
pub trait Kv {
    fn get(&self, key: String) -> Option<String>;
    fn len(&self) -> usize;
    #[cast]
    fn put(&mut self, key: String, value: String);
    #[cast]
    fn expire(&mut self, key: String, after_ms: u64, host: &mut Host<'_, KvInterface>);
}

#[derive(ferrotp::abi::serde::Serialize, ferrotp::abi::serde::Deserialize)]
#[serde(crate = "ferrotp::abi::serde")]
pub struct Store(std::collections::BTreeMap<String, String>);

impl Kv for Store {
    fn get(&self, key: String) -> Option<String> {
        self.0.get(&key).cloned()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn put(&mut self, key: String, value: String) {
        self.0.insert(key, value);
    }
    fn expire(&mut self, key: String, after_ms: u64, host: &mut Host<'_, KvInterface>) {
        host.debug(&format!("{key} expires in {after_ms} ms"));
    }
}

impl HotModule for Store {
    type Interface = KvInterface;
    const VSN: &'static str = "1";
    fn init((): (), _: &mut Host<'_, KvInterface>) -> Result<Self, String> {
        Ok(Store(Default::default()))
    }
}

ferrotp::abi::export_module!(Store);

fn main() {
    // The generated messages: struct variants named after the methods.
    let _ = KvCall::Get { key: "a".into() };
    let _ = KvReply::Len(3);
    let _ = KvCast::Put { key: "a".into(), value: "b".into() };
    let _ = KvCast::Expire { key: "a".into(), after_ms: 5 };
}
