//! Records the compiler and target this copy of the contract was built with: the fingerprint a
//! module carries and the loader compares with its own.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| {
            // "rustc 1.93.0 (...)" plus the commit hash: both name the compiler exactly.
            let release = s.lines().next().unwrap_or_default().to_string();
            let commit = s
                .lines()
                .find_map(|l| l.strip_prefix("commit-hash: "))
                .unwrap_or("unknown");
            format!("{release} [{commit}]")
        })
        .unwrap_or_else(|| "unknown rustc".into());
    println!("cargo:rustc-env=FERROTP_ABI_RUSTC={version}");
    println!(
        "cargo:rustc-env=FERROTP_ABI_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-env-changed=RUSTC");
}
