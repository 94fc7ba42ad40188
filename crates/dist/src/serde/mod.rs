//! Rust types as Erlang terms, with serde.
//!
//! | Rust | Erlang / Elixir term |
//! |---|---|
//! | `bool` | `true`, `false` |
//! | integers, `i128`, `u128` | integers (big ones as bignums) |
//! | `f32`, `f64` | floats (integers are accepted when decoding) |
//! | `char` | its code point, an integer (`$a` is 97) |
//! | `String`, `&str` | a UTF-8 binary, as Elixir strings are (a charlist or an atom is accepted when decoding) |
//! | bytes (`serde_bytes`) | a binary |
//! | `Option<T>` | `nil` for `None` (`undefined` is accepted too), the value for `Some` |
//! | `()` | `ok` |
//! | unit struct `struct Ping;` | the atom of its name, `'Ping'` |
//! | newtype struct `Meters(f64)` | the inner value |
//! | `Vec<T>`, sets, sequences | a list (a binary decodes as a list of bytes) |
//! | tuples, tuple structs | a tuple |
//! | `HashMap`, `BTreeMap` | a map |
//! | struct `{ a, b }` | a map with atom keys, `#{a => .., b => ..}` (unknown keys are ignored when decoding, an Elixir struct's `__struct__` among them) |
//! | unit variant `E::Up` | the atom `'Up'` (use `#[serde(rename_all = "snake_case")]` for `up`) |
//! | newtype variant `E::Set(x)` | `{'Set', X}` |
//! | tuple variant `E::Move(x, y)` | `{'Move', X, Y}` |
//! | struct variant `E::Shape { w, h }` | `{'Shape', #{w => .., h => ..}}` |
//! | [`Term`] | itself, unchanged (pids, references and anything else pass through) |
//!
//! Variant and struct names are used as they are spelled in Rust: Erlang's convention is
//! lowercase atoms, so a type meant for BEAM peers usually carries
//! `#[serde(rename_all = "snake_case")]`.

mod de;
mod ser;

pub use de::{from_term, TermDeserializer};
pub use ser::{to_term, TermSerializer};

use crate::term::{DecodeError, EncodeError, Term};

/// The newtype name by which a [`Term`] nested in a Rust value is recognised by this crate's
/// serializer and deserializer, and passed through whole.
pub(crate) const TERM_TOKEN: &str = "$ferrotp_dist::Term";

/// A value could not be mapped to or from a term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerdeError {
    /// A term of the wrong shape for the Rust type.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the Rust type needs.
        expected: &'static str,
        /// The term found (shortened).
        found: String,
    },
    /// A term's encoding failed (an atom too long...).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A nested term's bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Another problem, as serde reports it.
    #[error("{0}")]
    Message(String),
}

impl serde::ser::Error for SerdeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerdeError::Message(msg.to_string())
    }
}

impl serde::de::Error for SerdeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerdeError::Message(msg.to_string())
    }
}

/// A `Term` inside a Rust value passes through this crate's serde mapping unchanged. (With
/// other serde formats it is its External Term Format bytes.)
impl serde::Serialize for Term {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.encode().map_err(serde::ser::Error::custom)?;
        serializer.serialize_newtype_struct(TERM_TOKEN, &Bytes(&bytes))
    }
}

struct Bytes<'a>(&'a [u8]);

impl serde::Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Term {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Term, D::Error> {
        struct TermVisitor;
        impl<'de> serde::de::Visitor<'de> for TermVisitor {
            type Value = Term;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an Erlang term")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Term, E> {
                Term::decode(v).map_err(E::custom)
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Term, E> {
                Term::decode(&v).map_err(E::custom)
            }
            fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Term, D::Error> {
                d.deserialize_byte_buf(self)
            }
        }
        deserializer.deserialize_newtype_struct(TERM_TOKEN, TermVisitor)
    }
}
