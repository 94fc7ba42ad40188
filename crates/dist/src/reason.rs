//! Exit reasons across nodes.
//!
//! | [`ExitReason`] | Erlang term |
//! |---|---|
//! | `Normal`, `Shutdown`, `Kill`, `Killed`, `NoProc`, `NoConnection` | `normal`, `shutdown`, `kill`, `killed`, `noproc`, `noconnection` |
//! | `ShutdownWith(detail)` | `{shutdown, Term}`: the term received, or the detail's text as a binary |
//! | `Panic { message, location }` | `{panic, #{message => <<"...">>, location => <<"file:line:col">> \| nil}}` |
//! | `Error(detail)` | the term received from a BEAM node, or `{error, <<"text">>}` |
//!
//! A reason that came from another node keeps its term ([`RemoteReason`], inside the
//! `Error` or `ShutdownWith` detail), so that passing it on sends the same term again.

use std::fmt;

use ferrotp_runtime::{Detail, ExitReason};

use crate::term::Term;

/// An exit reason received from another node, as its term: the source of the
/// [`Detail`] of an `Error` or `ShutdownWith` reason (find it with
/// [`Detail::downcast_ref`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteReason(pub Term);

impl fmt::Display for RemoteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for RemoteReason {}

/// The term for `reason`.
pub fn to_term(reason: &ExitReason) -> Term {
    let kept = |d: &Detail| d.downcast_ref::<RemoteReason>().map(|r| r.0.clone());
    match reason {
        ExitReason::Normal => Term::atom("normal"),
        ExitReason::Shutdown => Term::atom("shutdown"),
        ExitReason::Kill => Term::atom("kill"),
        ExitReason::Killed => Term::atom("killed"),
        ExitReason::NoProc => Term::atom("noproc"),
        ExitReason::NoConnection => Term::atom("noconnection"),
        ExitReason::ShutdownWith(d) => Term::tuple([
            Term::atom("shutdown"),
            kept(d).unwrap_or_else(|| Term::binary(d.as_str())),
        ]),
        ExitReason::Panic { message, location } => Term::tuple([
            Term::atom("panic"),
            Term::Map(vec![
                (Term::atom("message"), Term::binary(message.as_bytes())),
                (
                    Term::atom("location"),
                    location
                        .as_deref()
                        .map_or(Term::atom("nil"), |l| Term::binary(l.as_bytes())),
                ),
            ]),
        ]),
        ExitReason::Error(d) => {
            kept(d).unwrap_or_else(|| Term::tuple([Term::atom("error"), Term::binary(d.as_str())]))
        }
        other => Term::tuple([Term::atom("error"), Term::binary(other.to_string())]),
    }
}

/// The reason for `term`.
pub fn from_term(term: Term) -> ExitReason {
    match term.as_atom() {
        Some("normal") => return ExitReason::Normal,
        Some("shutdown") => return ExitReason::Shutdown,
        Some("kill") => return ExitReason::Kill,
        Some("killed") => return ExitReason::Killed,
        Some("noproc") => return ExitReason::NoProc,
        Some("noconnection") => return ExitReason::NoConnection,
        _ => {}
    }
    if let Some([tag, detail]) = term.as_tuple() {
        if tag.is_atom("shutdown") {
            return ExitReason::ShutdownWith(Detail::from_error(RemoteReason(detail.clone())));
        }
    }
    ExitReason::Error(Detail::from_error(RemoteReason(term)))
}
