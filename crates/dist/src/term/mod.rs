//! Erlang terms and their External Term Format (`term_to_binary`'s bytes).
//!
//! [`Term`] is the dynamic form of any Erlang value, for code that talks to arbitrary BEAM
//! processes; [`to_term`](crate::to_term) and [`from_term`](crate::from_term) map Rust types
//! onto it with serde. [`Term::decode`] reads bytes from the network: it never panics, never
//! allocates more than the input can justify, and bounds nesting and decompression
//! ([`DecodeLimits`]).

mod atom;
mod bigint;
mod decode;
mod encode;

use std::fmt;

pub use atom::Atom;
pub use bigint::BigInt;
pub use decode::{DecodeError, DecodeLimits};
pub use encode::EncodeError;

/// A pid of any node, as it travels in terms (`NEW_PID_EXT`): the node's name, the process's
/// id and serial there, and the node's creation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalPid {
    /// The node the process lives on.
    pub node: Atom,
    /// Its number on that node.
    pub id: u32,
    /// The high part of its number (with 64-bit pids, `DFLAG_V4_NC`).
    pub serial: u32,
    /// The incarnation of the node.
    pub creation: u32,
}

/// A port of any node (`NEW_PORT_EXT`, `V4_PORT_EXT`). ferrotp has no ports; they pass through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalPort {
    /// The node the port belongs to.
    pub node: Atom,
    /// Its number.
    pub id: u64,
    /// The incarnation of the node.
    pub creation: u32,
}

/// A reference of any node (`NEWER_REFERENCE_EXT`): up to five 32-bit words.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalRef {
    /// The node that made it.
    pub node: Atom,
    /// The incarnation of the node.
    pub creation: u32,
    /// Its words, least significant first (1 to 5).
    pub id: Vec<u32>,
}

/// An Erlang value.
///
/// Integers that fit an `i64` are [`Term::Integer`] however they were encoded; larger ones are
/// [`Term::BigInt`]. Strings are whatever the sender made them: a UTF-8 [`Term::Binary`] from
/// Elixir (`"text"`), a list of integers from Erlang (`"text"`, a charlist).
///
/// # Examples
///
/// ```
/// use ferrotp_dist::{Atom, Term};
///
/// let reply = Term::tuple([Term::atom("ok"), Term::from(42)]);
/// let bytes = reply.encode().unwrap();
/// assert_eq!(Term::decode(&bytes).unwrap(), reply);
/// assert_eq!(reply.to_string(), "{ok,42}");
/// # let _ = Atom::new("ok");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// An atom.
    Atom(Atom),
    /// An integer that fits an `i64`.
    Integer(i64),
    /// An integer that does not.
    BigInt(BigInt),
    /// A float.
    Float(f64),
    /// A binary (a whole number of bytes).
    Binary(Vec<u8>),
    /// A bitstring whose last byte holds `bits` bits (1 to 8), in its high end.
    BitBinary {
        /// The bytes.
        bytes: Vec<u8>,
        /// How many bits of the last byte count.
        bits: u8,
    },
    /// A proper list (`[]` is the empty one).
    List(Vec<Term>),
    /// A list whose tail is not `[]`: `[a, b | tail]`.
    ImproperList(Vec<Term>, Box<Term>),
    /// A tuple.
    Tuple(Vec<Term>),
    /// A map, its pairs in the order they arrived.
    Map(Vec<(Term, Term)>),
    /// A pid.
    Pid(ExternalPid),
    /// A port.
    Port(ExternalPort),
    /// A reference.
    Ref(ExternalRef),
    /// An external fun, `fun module:function/arity`.
    Export {
        /// The module.
        module: Atom,
        /// The function.
        function: Atom,
        /// The arity.
        arity: u8,
    },
    /// A fun with a closure (`NEW_FUN_EXT`), kept as its encoded bytes: it can be passed on to
    /// a BEAM node unchanged, not called here.
    Fun(Vec<u8>),
}

impl Term {
    /// The atom `name`.
    pub fn atom(name: &str) -> Term {
        Term::Atom(Atom::new(name))
    }

    /// A tuple of `elements`.
    pub fn tuple(elements: impl IntoIterator<Item = Term>) -> Term {
        Term::Tuple(elements.into_iter().collect())
    }

    /// A proper list of `elements`.
    pub fn list(elements: impl IntoIterator<Item = Term>) -> Term {
        Term::List(elements.into_iter().collect())
    }

    /// The empty list, `[]`.
    pub fn nil() -> Term {
        Term::List(Vec::new())
    }

    /// A binary holding `bytes`.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Term {
        Term::Binary(bytes.into())
    }

    /// The atom's name, if this is an atom.
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Term::Atom(a) => Some(a.as_str()),
            _ => None,
        }
    }

    /// Whether this is the atom `name`.
    pub fn is_atom(&self, name: &str) -> bool {
        self.as_atom() == Some(name)
    }

    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Term::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements, if this is a tuple.
    pub fn as_tuple(&self) -> Option<&[Term]> {
        match self {
            Term::Tuple(t) => Some(t),
            _ => None,
        }
    }

    /// The value under `key`, if this is a map that has it.
    pub fn map_get(&self, key: &Term) -> Option<&Term> {
        match self {
            Term::Map(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text, if this is a binary holding UTF-8 (an Elixir string) or a list of Unicode
    /// code points (an Erlang charlist).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Term::Binary(b) => String::from_utf8(b.clone()).ok(),
            Term::List(items) => items
                .iter()
                .map(|t| {
                    t.as_i64()
                        .and_then(|n| u32::try_from(n).ok())
                        .and_then(char::from_u32)
                })
                .collect(),
            _ => None,
        }
    }

    /// Decode a term from `term_to_binary` bytes (starting with the version byte 131), with
    /// the default [`DecodeLimits`]. The whole input must be one term.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] says what is wrong and at which byte; nothing panics and nothing larger
    /// than the input (or the decompression limit) is allocated, whatever the bytes are.
    pub fn decode(bytes: &[u8]) -> Result<Term, DecodeError> {
        Term::decode_with(bytes, &DecodeLimits::default())
    }

    /// [`decode`](Self::decode) with explicit limits.
    ///
    /// # Errors
    ///
    /// As [`decode`](Self::decode).
    pub fn decode_with(bytes: &[u8], limits: &DecodeLimits) -> Result<Term, DecodeError> {
        let (term, used) = decode::decode_versioned(bytes, limits)?;
        if used != bytes.len() {
            return Err(DecodeError::TrailingBytes {
                at: used,
                left: bytes.len() - used,
            });
        }
        Ok(term)
    }

    /// Decode one versioned term from the start of `bytes`; also returns how many bytes it
    /// took (distribution messages carry two terms back to back).
    ///
    /// # Errors
    ///
    /// As [`decode`](Self::decode).
    pub fn decode_prefix(
        bytes: &[u8],
        limits: &DecodeLimits,
    ) -> Result<(Term, usize), DecodeError> {
        decode::decode_versioned(bytes, limits)
    }

    /// The External Term Format of this term, version byte included (`term_to_binary`).
    ///
    /// # Errors
    ///
    /// [`EncodeError`] for what the format cannot hold: an atom longer than 255 characters, a
    /// reference of more than 5 words, a bitstring with 0 or more than 8 bits in its last
    /// byte, nesting deeper than the decoder's default limit.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Append this term's External Term Format (version byte included) to `out`.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode); `out` may then hold part of the term.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(131);
        encode::encode(self, out)
    }
}

impl From<i64> for Term {
    fn from(n: i64) -> Term {
        Term::Integer(n)
    }
}

impl From<i32> for Term {
    fn from(n: i32) -> Term {
        Term::Integer(n.into())
    }
}

impl From<u32> for Term {
    fn from(n: u32) -> Term {
        Term::Integer(n.into())
    }
}

impl From<u64> for Term {
    fn from(n: u64) -> Term {
        match i64::try_from(n) {
            Ok(n) => Term::Integer(n),
            Err(_) => Term::BigInt(BigInt::from(i128::from(n))),
        }
    }
}

impl From<f64> for Term {
    fn from(x: f64) -> Term {
        Term::Float(x)
    }
}

impl From<bool> for Term {
    fn from(b: bool) -> Term {
        Term::atom(if b { "true" } else { "false" })
    }
}

/// A string is a UTF-8 binary, as Elixir's strings are.
impl From<&str> for Term {
    fn from(s: &str) -> Term {
        Term::Binary(s.as_bytes().to_vec())
    }
}

/// A string is a UTF-8 binary, as Elixir's strings are.
impl From<String> for Term {
    fn from(s: String) -> Term {
        Term::Binary(s.into_bytes())
    }
}

impl From<Atom> for Term {
    fn from(a: Atom) -> Term {
        Term::Atom(a)
    }
}

impl From<ExternalPid> for Term {
    fn from(p: ExternalPid) -> Term {
        Term::Pid(p)
    }
}

impl From<ExternalRef> for Term {
    fn from(r: ExternalRef) -> Term {
        Term::Ref(r)
    }
}

/// Erlang's own notation, as `io:format("~w")` prints terms (binaries as `<<...>>`,
/// UTF-8 binaries as `<<"text">>`).
/// A character `~p` prints as part of a string: Latin-1 printable, or a tab or newline.
fn is_printable_char(t: &Term) -> bool {
    matches!(t, Term::Integer(c) if (32..=126).contains(c) || (160..=255).contains(c) || *c == 9 || *c == 10)
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
            for (i, t) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{t}")?;
            }
            Ok(())
        }
        match self {
            Term::Atom(a) => write!(f, "{a}"),
            Term::Integer(n) => write!(f, "{n}"),
            Term::BigInt(n) => write!(f, "{n}"),
            Term::Float(x) => write!(f, "{x:?}"),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) if !s.chars().any(char::is_control) => write!(f, "<<{s:?}>>"),
                _ => {
                    f.write_str("<<")?;
                    for (i, byte) in b.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{byte}")?;
                    }
                    f.write_str(">>")
                }
            },
            Term::BitBinary { bytes, bits } => {
                write!(f, "<<{} bytes, {bits} bits in the last>>", bytes.len())
            }
            // A list of printable characters is a string, shown as `~p` shows it.
            Term::List(items) if !items.is_empty() && items.iter().all(is_printable_char) => {
                let text: String = items
                    .iter()
                    .filter_map(|t| t.as_i64().and_then(|c| char::from_u32(c as u32)))
                    .collect();
                write!(f, "{text:?}")
            }
            Term::List(items) => {
                f.write_str("[")?;
                seq(f, items)?;
                f.write_str("]")
            }
            Term::ImproperList(items, tail) => {
                f.write_str("[")?;
                seq(f, items)?;
                write!(f, "|{tail}]")
            }
            Term::Tuple(items) => {
                f.write_str("{")?;
                seq(f, items)?;
                f.write_str("}")
            }
            Term::Map(pairs) => {
                f.write_str("#{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{k} => {v}")?;
                }
                f.write_str("}")
            }
            Term::Pid(p) => write!(f, "<{}.{}.{}>", p.node, p.id, p.serial),
            Term::Port(p) => write!(f, "#Port<{}.{}>", p.node, p.id),
            Term::Ref(r) => {
                write!(f, "#Ref<{}", r.node)?;
                for w in r.id.iter().rev() {
                    write!(f, ".{w}")?;
                }
                f.write_str(">")
            }
            Term::Export {
                module,
                function,
                arity,
            } => write!(f, "fun {module}:{function}/{arity}"),
            Term::Fun(_) => f.write_str("#Fun<>"),
        }
    }
}
