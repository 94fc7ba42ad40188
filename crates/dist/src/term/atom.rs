//! Atoms: names, up to 255 characters.

use std::fmt;
use std::sync::Arc;

/// The longest atom Erlang accepts, in characters.
pub(crate) const MAX_ATOM_CHARS: usize = 255;

/// An atom: a name compared by its text.
///
/// Atoms in ferrotp are not interned in a table that only grows (the BEAM's atom table is
/// bounded and never collected; a node that turns untrusted input into atoms can be made to
/// exhaust it). They are reference-counted strings, freed when no term holds them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(Arc<str>);

impl Atom {
    /// The atom `name`. Names longer than 255 characters are refused when encoded.
    pub fn new(name: &str) -> Atom {
        Atom(Arc::from(name))
    }

    /// Its name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether Erlang would print it without quotes (`ok`, `'Elixir.Foo'` needs them).
    fn is_plain(&self) -> bool {
        let mut chars = self.0.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
    }
}

impl From<&str> for Atom {
    fn from(name: &str) -> Atom {
        Atom::new(name)
    }
}

impl fmt::Display for Atom {
    /// As Erlang prints it: `ok`, or `'Quoted Name'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_plain() {
            f.write_str(&self.0)
        } else {
            write!(f, "'{}'", self.0.replace('\\', "\\\\").replace('\'', "\\'"))
        }
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({self})")
    }
}
