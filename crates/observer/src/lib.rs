//! ferrotp's observer: the running system in a browser.
//!
//! Erlang users open `:observer`; Elixir users, Phoenix LiveDashboard. This is ferrotp's: one
//! page, served by the application itself on its own tokio runtime, that shows
//!
//! * the **supervision tree**: every supervisor with its strategy and the restarts it has used
//!   of its intensity, every child with its restart type, status, restart count and pid (at
//!   most 200 children per supervisor on the page, the rest found by search);
//! * the **process table**, sorted and paged on the server: status, mailbox length, messages
//!   handled (in all and per second), restarts, links, monitors, module version, age;
//! * a **process detail**: links and monitors, the callback it is running and for how long,
//!   its last exit reason, and its state where its type opts in
//!   ([`GenServer::format_status`](ferrotp_runtime::gen_server::GenServer::format_status));
//! * the **crash log** (the last 1,000 crashes, restarts and escalations) and the **upgrade
//!   history**, pushed as they happen;
//! * with the `dist` feature, the connected **nodes**, what is queued toward each, and the
//!   links and monitors that cross nodes.
//!
//! # How it reads the system
//!
//! Only from what the runtime keeps: counters in each process's cell, the child tables
//! supervisors publish, the runtime's event log, the loader's module table (see
//! [`ferrotp_runtime::observe`]). Rendering the page never sends a message into a user
//! process: LiveDashboard crashed users' GenServers by calling `which_children` on a busy
//! supervisor; this never calls it. The one exception is opt-in and on demand: opening a
//! GenServer whose type shows its state asks for it as a `sys` request, with a short timeout.
//!
//! Nothing runs while no browser (or script) is connected: snapshots are built for the
//! connected event streams, at the interval each chose (0.25 to 30 s, 1 s by default).
//!
//! # Security
//!
//! * It binds loopback unless told otherwise ([`ObserverBuilder::allow_non_loopback`]).
//! * Every request's `Host` must be one of the bound names, or it gets 403: binding loopback
//!   alone does not stop DNS rebinding.
//! * A random 128-bit token, logged once in the URL to open (`/?token=…`), sets an
//!   `HttpOnly; SameSite=Strict` cookie that every route requires.
//! * Actions (kill, shutdown, suspend, resume, terminate or restart a child, upgrade or roll
//!   back a hot module) are off unless [`ObserverBuilder::allow_actions`] turns them on. Each
//!   is a POST that also needs the token in an `X-Ferrotp-Token` header and an `Origin` that
//!   names this server. There is no action that sends a message or replaces a state.
//! * The page writes everything it shows as text, never as HTML: a process named
//!   `<script>…` is shown as those characters.
//!
//! # Example
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), ferrotp_observer::ObserverError> {
//! let observer = ferrotp_observer::Observer::builder()
//!     .bind("127.0.0.1:0")
//!     .start()
//!     .await?;
//! println!("open {}", observer.url());
//! # Ok(()) }
//! ```
//!
//! The JSON the page reads is an API too, for scripts and `curl` (with the cookie): see
//! `docs/observer.md`.

mod actions;
mod builder;
mod error;
mod json;
mod routes;
mod security;
mod server;
mod tracker;

pub use builder::ObserverBuilder;
pub use error::ObserverError;
pub use server::Observer;
