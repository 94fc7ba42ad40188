//! What can go wrong when loading, upgrading and calling hot modules: each error says what
//! happened and what to do, and none of them leaves running code changed.

use std::path::PathBuf;
use std::time::Duration;

use ferrotp_runtime::gen_server::{CallError, StartError};
use ferrotp_runtime::sys::SysError;
use ferrotp_runtime::Pid;

/// A library was refused. Nothing running was touched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The path is not inside a directory the loader was configured to trust.
    #[error("{path}: not inside a trusted module directory ({allowed}); add its directory to LoaderConfig::allow_dir")]
    NotInAllowedDir {
        /// The refused path.
        path: PathBuf,
        /// The configured directories.
        allowed: String,
    },
    /// The file or its directory can be written by anyone: anyone could replace the code.
    #[error("{path} is world-writable; a module must be writable only by its owner (chmod o-w)")]
    WorldWritable {
        /// The file or directory.
        path: PathBuf,
    },
    /// The file or a directory on its way is owned by another user: that user could replace
    /// the code.
    #[error("{path} is owned by uid {owner}; a module and its directories must belong to the host's user or to root")]
    ForeignOwner {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
    },
    /// The file or a directory on its way is writable by its group.
    #[error("{path} is group-writable; make it writable only by its owner (chmod g-w), or allow it with TrustPolicy::allow_group_writable")]
    GroupWritable {
        /// The file or directory.
        path: PathBuf,
    },
    /// A symbolic link below the trusted directory: links are never followed, so what is
    /// checked is what is loaded.
    #[error("{path} is or passes through a symbolic link; load the file by its real path inside a trusted directory")]
    Symlink {
        /// The path.
        path: PathBuf,
    },
    /// Not a regular file (a FIFO, a directory, a device, a socket).
    #[error("{path} is {kind}, not a regular file")]
    NotARegularFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// The file is larger than the policy's size cap.
    #[error("{path} is {size} bytes, over the limit of {limit}; raise TrustPolicy::max_size if it is a real module")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The staging directory the loader created is not private to it.
    #[error("the staging directory {path} is not private to this process; staging was refused")]
    StagingNotPrivate {
        /// The directory.
        path: PathBuf,
    },
    /// The file's SHA-256 is not in the configured allowlist.
    #[error("{path}: SHA-256 {sha256} is not in the allowlist")]
    NotAllowlisted {
        /// The refused path.
        path: PathBuf,
        /// Its digest, in hex.
        sha256: String,
    },
    /// Reading or staging the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is too short to be the library it claims to be (a half-written build output?).
    #[error("{path} is truncated ({detail}); wait for the build to finish and load it again")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The dynamic loader's message.
        detail: String,
    },
    /// The file is not a dynamic library.
    #[error("{path} is not a dynamic library ({detail}); load the cdylib the module crate builds")]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// The dynamic loader's message.
        detail: String,
    },
    /// The library does not export a ferrotp module declaration.
    #[error("{path} does not export `ferrotp_module_decl`; add `ferrotp_abi::export_module!(YourModule);`")]
    MissingSymbol {
        /// The file.
        path: PathBuf,
    },
    /// The declaration does not start with ferrotp's magic number.
    #[error("{path}: `ferrotp_module_decl` is not a ferrotp module declaration")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The module was built against another version of the contract.
    #[error("{path}: built for contract version {found}, this loader speaks {expected}; rebuild the module against this ferrotp")]
    ContractMismatch {
        /// The file.
        path: PathBuf,
        /// The module's contract version.
        found: u32,
        /// The loader's.
        expected: u32,
    },
    /// The module was built by another compiler: Rust has no stable ABI between compilers.
    #[error("{path}: built by `{found}`, the host by `{expected}`; rebuild the module with the host's toolchain")]
    CompilerMismatch {
        /// The file.
        path: PathBuf,
        /// The module's compiler.
        found: String,
        /// The host's.
        expected: String,
    },
    /// The module was built for another target.
    #[error("{path}: built for {found}, the host is {expected}")]
    TargetMismatch {
        /// The file.
        path: PathBuf,
        /// The module's target.
        found: String,
        /// The host's.
        expected: String,
    },
    /// The module was built with `panic = "abort"`: its panics could not be caught.
    #[error("{path}: built with panic = \"abort\"; hot modules need panic = \"unwind\"")]
    PanicAbort {
        /// The file.
        path: PathBuf,
    },
    /// The library declares another module than the one asked for.
    #[error("{path} declares module `{found}`, expected `{expected}`")]
    WrongModule {
        /// The file.
        path: PathBuf,
        /// The module asked for.
        expected: String,
        /// The module declared.
        found: String,
    },
    /// The declaration is malformed: a pointer outside the library, a string that is not
    /// UTF-8, a misplaced entry point.
    #[error("{path}: malformed module declaration: {detail}")]
    BadDeclaration {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The module implements another interface than the one asked for, or one that running
    /// clients do not speak.
    #[error("{path}: module `{module}` implements another interface than {expected}; rebuild it against the interface crate its clients use")]
    InterfaceMismatch {
        /// The file.
        path: PathBuf,
        /// The module.
        module: String,
        /// What was expected of it.
        expected: String,
    },
    /// Loading (reading, checking, mapping, the self-check) took longer than the loader's
    /// load timeout; a library stuck in its initialisers is abandoned on its thread.
    #[error("{path}: loading did not finish within {timeout:?}; the library is abandoned")]
    Timeout {
        /// The file.
        path: PathBuf,
        /// The limit.
        timeout: Duration,
    },
    /// The module's self-check failed.
    #[error("{path}: self-check failed: {detail}")]
    SelfCheck {
        /// The file.
        path: PathBuf,
        /// What the module reported.
        detail: String,
    },
    /// The dynamic loader refused the file for another reason (a missing dependency, say).
    #[error("{path}: cannot be loaded: {detail}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The dynamic loader's message.
        detail: String,
    },
}

/// How a module's code failed inside one entry point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleFault {
    /// The module returned an error.
    #[error("{0}")]
    Error(String),
    /// The module panicked; the panic was caught inside it.
    #[error("panicked: {message}{}", location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Panic {
        /// The panic message.
        message: String,
        /// Where, when known.
        location: Option<String>,
    },
    /// Bytes handed to the module did not decode as its types.
    #[error("could not decode its input: {0}")]
    Decode(String),
    /// The module did not return within the allowed time.
    #[error("did not finish within {0:?}")]
    Timeout(Duration),
}

/// An upgrade or downgrade failed. Every process runs the code it ran before, with the state it
/// had, and every message sent meanwhile is still queued for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The new library was refused; no process was suspended.
    #[error("the new version was refused: {0}")]
    Load(#[from] LoadError),
    /// No version of this module is loaded.
    #[error("module `{0}` is not loaded; load a first version with Loader::load")]
    UnknownModule(String),
    /// Another upgrade of the module is running.
    #[error("an upgrade of `{0}` is already running; try again when it has finished")]
    InProgress(String),
    /// There is no older version to go back to.
    #[error("module `{0}` has no old version to downgrade to")]
    NoOldVersion(String),
    /// The kept version is newer than the current one (the module was downgraded already):
    /// downgrading to it would be an upgrade that skips its `code_change`.
    #[error("module `{module}` runs version {current}; the version kept, {kept}, is newer: upgrade to it with Loader::upgrade instead of downgrading")]
    NotOlder {
        /// The module.
        module: String,
        /// The current version.
        current: String,
        /// The kept, newer one.
        kept: String,
    },
    /// A process of the module was still starting (its `init` running) when the upgrade had
    /// waited the suspend timeout for it; nothing was suspended.
    #[error("a process of `{module}` was still starting after {timeout:?}; no process was suspended: try again")]
    StartInProgress {
        /// The module.
        module: String,
        /// How long the upgrade waited.
        timeout: Duration,
    },
    /// A process could not be suspended or inspected.
    #[error("process {pid} could not be suspended: {error}; the upgrade was rolled back")]
    Suspend {
        /// The process.
        pid: Pid,
        /// The `sys` error.
        error: SysError,
    },
    /// Migrating a process's state failed; the upgrade was rolled back.
    #[error("migrating the state of {pid} from version {from} to {to} failed: {fault}; the upgrade was rolled back and {pid} still runs version {from}")]
    Migration {
        /// The process.
        pid: Pid,
        /// The version it runs.
        from: String,
        /// The version it was to run.
        to: String,
        /// What the module's code did.
        fault: ModuleFault,
    },
    /// The upgrade's task ended before it finished: the runtime is shutting down.
    #[error("the code change did not finish: {0}")]
    Aborted(String),
    /// Processes still run the old version, and the purge policy is soft.
    #[error("{count} process(es) of `{module}` still run version {vsn}; upgrade them first or use PurgePolicy::Brutal", count = processes.len())]
    OldCodeInUse {
        /// The module.
        module: String,
        /// The old version.
        vsn: String,
        /// Its processes.
        processes: Vec<Pid>,
    },
}

/// A call to a hot process failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HotCallError {
    /// The call itself failed: timeout, no process, the process crashed (a panic in the
    /// module's handler is reported here as `CallError::Exit(Panic { .. })`).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The module could not decode the request: the host's interface crate and the running
    /// version disagree.
    #[error("the module rejected the request: {0}")]
    Rejected(String),
    /// The reply did not decode as the interface's reply type.
    #[error("the reply did not decode: {0}")]
    BadReply(String),
    /// The request did not encode.
    #[error("the request did not encode: {0}")]
    Encode(String),
    /// The process runs a module whose interface is not the client's: another module, or a
    /// version that no longer has the client's methods.
    #[error("the process runs `{module}` version {vsn}, whose interface is not this client's ({client}); nothing was sent to it")]
    InterfaceMismatch {
        /// The module the process runs.
        module: String,
        /// Its version.
        vsn: String,
        /// The client's interface.
        client: String,
    },
    /// The module answered a call with the reply of another call.
    #[error("the module answered with an unexpected reply: {0}")]
    UnexpectedReply(String),
}

/// A hot process did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HotStartError {
    /// No version of the module is loaded.
    #[error("module `{0}` is not loaded; load it with Loader::load first")]
    UnknownModule(String),
    /// The arguments did not encode.
    #[error("the arguments did not encode: {0}")]
    Encode(String),
    /// The loaded module's interface is not the client's.
    #[error("module `{module}` version {vsn} implements another interface than {client}; rebuild it against the same interface crate")]
    InterfaceMismatch {
        /// The module.
        module: String,
        /// Its current version.
        vsn: String,
        /// The client's interface.
        client: String,
    },
    /// The process did not start (its `init` failed or panicked, or the name is taken).
    #[error(transparent)]
    Start(#[from] StartError),
}
