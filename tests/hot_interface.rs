//! `#[hot_interface]`: what it generates compiles into a module and a typed client, and its
//! mistakes are reported at the offending tokens (trybuild).
#![cfg(feature = "hot")]

#[test]
fn hot_interface_diagnostics() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/hot_pass/*.rs");
    t.compile_fail("tests/ui/hot_fail/*.rs");
}
