use ferrotp::abi::hot_interface;
use ferrotp::hot::HotClient;

#[hot_interface(module = "echo", args = ())]
pub trait Echo {
    fn echo(&self, text: String) -> String;
    #[cast]
    fn log(&mut self, text: String);
}

// The typed client is a method on the loader's HotClient once the trait is in scope.
async fn use_it(client: HotClient<EchoInterface>) -> Result<String, ferrotp::hot::HotCallError> {
    client.log("hello".into());
    client.echo("hi".into()).await
}

fn main() {
    let _ = use_it;
}
