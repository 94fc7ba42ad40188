//! The shape of requests to servers declared with `#[gen_server(remote)]`, as Erlang code
//! writes them: a handler without arguments is called with its name's atom
//! (`gen_server:call(S, get)`), one with arguments with a tuple tagged by it
//! (`gen_server:call(S, {add, 5})`).

use crate::serde::SerdeError;
use crate::term::Term;

/// `name`, or `{name, Args...}`.
///
/// ```
/// use ferrotp_dist::{request, Term};
///
/// assert_eq!(request::build("get", vec![]), Term::atom("get"));
/// assert_eq!(
///     request::build("add", vec![Term::Integer(5)]),
///     Term::tuple([Term::atom("add"), Term::Integer(5)])
/// );
/// ```
pub fn build(name: &str, args: Vec<Term>) -> Term {
    if args.is_empty() {
        return Term::atom(name);
    }
    Term::Tuple(std::iter::once(Term::atom(name)).chain(args).collect())
}

/// A request's name and arguments.
///
/// # Errors
///
/// A term that is neither an atom nor a tuple tagged by one.
pub fn split(request: Term) -> Result<(String, Vec<Term>), SerdeError> {
    match request {
        Term::Atom(a) => Ok((a.as_str().to_owned(), Vec::new())),
        Term::Tuple(mut items) if items.first().is_some_and(|t| t.as_atom().is_some()) => {
            let name = items.remove(0);
            Ok((name.as_atom().unwrap_or_default().to_owned(), items))
        }
        other => Err(SerdeError::Unexpected {
            expected: "a request: an atom, or a tuple tagged by an atom",
            found: other.to_string(),
        }),
    }
}

/// The `N` arguments of request `name`.
///
/// # Errors
///
/// Another number of arguments.
pub fn args<const N: usize>(name: &str, args: Vec<Term>) -> Result<[Term; N], SerdeError> {
    let found = args.len();
    args.try_into().map_err(|_| {
        SerdeError::Message(format!("request {name} takes {N} arguments, not {found}"))
    })
}

/// A request no handler answers.
pub fn unknown(name: &str) -> SerdeError {
    SerdeError::Message(format!("no handler named {name}"))
}
