//! Decoding the External Term Format from untrusted bytes.
//!
//! Every length in the input is checked against what is left of the input before anything is
//! allocated for it (an element takes at least one byte, a map entry two), nesting is bounded,
//! and a compressed term is inflated only up to its declared size and a limit. No byte string
//! makes the decoder panic, loop, or allocate much more than its own length.

use std::io::Read;

use super::atom::MAX_ATOM_CHARS;
use super::{Atom, BigInt, ExternalPid, ExternalPort, ExternalRef, Term};

/// Bounds on what a decode may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeLimits {
    /// How deep terms may nest (tuples in lists in maps...). Default 1,024: far beyond what
    /// real messages use, far below what would exhaust a thread's stack.
    pub max_depth: usize,
    /// The largest size a compressed term may inflate to. Default 64 MiB.
    pub max_inflated: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: 1024,
            max_inflated: 64 << 20,
        }
    }
}

impl DecodeLimits {
    /// Set the nesting bound.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Set the inflation bound of compressed terms.
    pub fn max_inflated(mut self, bytes: usize) -> Self {
        self.max_inflated = bytes;
        self
    }
}

/// Why bytes are not a term. `at` is the offset in the input where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a term.
    #[error("the term is cut short at byte {at}: {needed} more bytes were expected")]
    Truncated {
        /// Where the missing bytes should have been.
        at: usize,
        /// How many more were needed, at least.
        needed: usize,
    },
    /// The first byte is not the format's version, 131.
    #[error("not an external term: the first byte is {0}, not 131")]
    BadVersion(u8),
    /// A tag this decoder does not know, or one that cannot appear here.
    #[error("unknown or unsupported term tag {tag} at byte {at}")]
    UnknownTag {
        /// The tag.
        tag: u8,
        /// Where.
        at: usize,
    },
    /// A length or count larger than the rest of the input could hold.
    #[error("a length of {declared} at byte {at} is more than the {left} bytes left could hold")]
    Oversized {
        /// Where.
        at: usize,
        /// The declared length.
        declared: u64,
        /// Bytes left.
        left: usize,
    },
    /// Terms nest deeper than [`DecodeLimits::max_depth`].
    #[error("terms nest deeper than {0} levels")]
    TooDeep(usize),
    /// An atom is not valid text or is longer than 255 characters.
    #[error("invalid atom at byte {0}")]
    BadAtom(usize),
    /// A value that must be of one kind is another (a pid's node that is not an atom, a
    /// bitstring with 0 bits in its last byte, a float that is not a number...).
    #[error("invalid {what} at byte {at}")]
    Invalid {
        /// What was expected.
        what: &'static str,
        /// Where.
        at: usize,
    },
    /// A compressed term is corrupt, larger than declared, or larger than
    /// [`DecodeLimits::max_inflated`].
    #[error("invalid compressed term: {0}")]
    BadCompression(&'static str),
    /// Bytes are left after the term.
    #[error("{left} bytes left after the term, at byte {at}")]
    TrailingBytes {
        /// Where the term ended.
        at: usize,
        /// How many bytes follow it.
        left: usize,
    },
}

const NEW_FLOAT: u8 = 70;
const BIT_BINARY: u8 = 77;
const COMPRESSED: u8 = 80;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const FLOAT: u8 = 99;
const ATOM: u8 = 100;
const REFERENCE: u8 = 101;
const PORT: u8 = 102;
const PID: u8 = 103;
const SMALL_TUPLE: u8 = 104;
const LARGE_TUPLE: u8 = 105;
const NIL: u8 = 106;
const STRING: u8 = 107;
const LIST: u8 = 108;
const BINARY: u8 = 109;
const SMALL_BIG: u8 = 110;
const LARGE_BIG: u8 = 111;
const NEW_FUN: u8 = 112;
const EXPORT: u8 = 113;
const NEW_REFERENCE: u8 = 114;
const SMALL_ATOM: u8 = 115;
const MAP: u8 = 116;
const ATOM_UTF8: u8 = 118;
const SMALL_ATOM_UTF8: u8 = 119;
const V4_PORT: u8 = 120;
const NEW_PID: u8 = 88;
const NEW_PORT: u8 = 89;
const NEWER_REFERENCE: u8 = 90;

/// Decode `131, term...` from the start of `bytes`; the term and the bytes it took.
pub(super) fn decode_versioned(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(Term, usize), DecodeError> {
    let mut r = Reader {
        bytes,
        pos: 0,
        limits,
    };
    let version = r.u8()?;
    if version != 131 {
        return Err(DecodeError::BadVersion(version));
    }
    if r.peek()? == COMPRESSED {
        r.pos += 1;
        let term = r.compressed()?;
        return Ok((term, r.pos));
    }
    let term = r.term()?;
    Ok((term, r.pos))
}

/// The most elements preallocated for a container, whatever its declared count: the rest grow
/// with the elements actually read.
const PREALLOCATE: usize = 1024;

/// What [`Reader::begin`] read.
enum Begun {
    Done(Term),
    Open(Open),
}

/// A container whose elements are still being read.
enum Open {
    Tuple {
        items: Vec<Term>,
        left: usize,
    },
    /// Elements, then the tail.
    List {
        items: Vec<Term>,
        left: usize,
        at: usize,
    },
    Map {
        pairs: Vec<(Term, Term)>,
        key: Option<Term>,
        left: usize,
    },
}

impl Open {
    /// Take the next element; the finished term once it was the last.
    fn push(&mut self, value: Term) -> Result<Option<Term>, DecodeError> {
        Ok(match self {
            Open::Tuple { items, left } => {
                items.push(value);
                *left -= 1;
                (*left == 0).then(|| Term::Tuple(std::mem::take(items)))
            }
            Open::List { items, left, .. } if *left > 0 => {
                items.push(value);
                *left -= 1;
                None
            }
            Open::List { items, at, .. } => Some(close_list(std::mem::take(items), value, *at)?),
            Open::Map { pairs, key, left } => match key.take() {
                None => {
                    *key = Some(value);
                    None
                }
                Some(k) => {
                    pairs.push((k, value));
                    *left -= 1;
                    (*left == 0).then(|| Term::Map(std::mem::take(pairs)))
                }
            },
        })
    }
}

/// A list from its elements and its tail: `[a | [b, c]]` is the proper list `[a, b, c]`.
fn close_list(mut items: Vec<Term>, tail: Term, at: usize) -> Result<Term, DecodeError> {
    Ok(match tail {
        Term::List(more) if !items.is_empty() || more.is_empty() => {
            items.extend(more);
            Term::List(items)
        }
        Term::ImproperList(more, tail) if !items.is_empty() => {
            items.extend(more);
            Term::ImproperList(items, tail)
        }
        _ if items.is_empty() => {
            return Err(DecodeError::Invalid {
                what: "list (no element before its tail)",
                at,
            })
        }
        tail => Term::ImproperList(items, Box::new(tail)),
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: &'a DecodeLimits,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.left() {
            return Err(DecodeError::Truncated {
                at: self.pos,
                needed: n - self.left(),
            });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Truncated {
                at: self.pos,
                needed: 1,
            })
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A count of items of at least `min_bytes` bytes each, checked against the input left.
    fn count(&mut self, declared: u64, min_bytes: usize, at: usize) -> Result<usize, DecodeError> {
        let left = self.left();
        match usize::try_from(declared) {
            Ok(n) if n.saturating_mul(min_bytes) <= left => Ok(n),
            _ => Err(DecodeError::Oversized { at, declared, left }),
        }
    }

    /// One whole term. Iterative: containers being filled wait on an explicit stack, so no
    /// input can exhaust the thread's stack, whatever the build profile.
    fn term(&mut self) -> Result<Term, DecodeError> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            let mut value = match self.begin()? {
                Begun::Done(term) => term,
                Begun::Open(container) => {
                    if open.len() >= self.limits.max_depth {
                        return Err(DecodeError::TooDeep(self.limits.max_depth));
                    }
                    open.push(container);
                    continue;
                }
            };
            // Hand the value to the innermost open container; each one it completes is in
            // turn a value for the next one out.
            loop {
                let Some(innermost) = open.last_mut() else {
                    return Ok(value);
                };
                match innermost.push(value)? {
                    None => break,
                    Some(done) => {
                        open.pop();
                        value = done;
                    }
                }
            }
        }
    }

    /// Read one tag and what follows it up to the first sub-term: a whole term, or a container
    /// that waits for its elements.
    fn begin(&mut self) -> Result<Begun, DecodeError> {
        let at = self.pos;
        let tag = self.u8()?;
        Ok(Begun::Done(match tag {
            SMALL_INTEGER => Term::Integer(self.u8()?.into()),
            INTEGER => Term::Integer((self.u32()? as i32).into()),
            NEW_FLOAT => {
                let x = f64::from_bits(self.u64()?);
                if !x.is_finite() {
                    return Err(DecodeError::Invalid { what: "float", at });
                }
                Term::Float(x)
            }
            FLOAT => {
                let text = self.take(31)?;
                let end = text.iter().position(|&b| b == 0).unwrap_or(31);
                std::str::from_utf8(&text[..end])
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|x| x.is_finite())
                    .map(Term::Float)
                    .ok_or(DecodeError::Invalid { what: "float", at })?
            }
            ATOM | SMALL_ATOM | ATOM_UTF8 | SMALL_ATOM_UTF8 => Term::Atom(self.atom_body(tag, at)?),
            SMALL_TUPLE | LARGE_TUPLE => {
                let n = if tag == SMALL_TUPLE {
                    self.u8()?.into()
                } else {
                    self.u32()?.into()
                };
                let n = self.count(n, 1, at)?;
                if n == 0 {
                    Term::Tuple(Vec::new())
                } else {
                    return Ok(Begun::Open(Open::Tuple {
                        items: Vec::with_capacity(n.min(PREALLOCATE)),
                        left: n,
                    }));
                }
            }
            NIL => Term::List(Vec::new()),
            STRING => {
                let n = self.u16()?.into();
                let bytes = self.take(n)?;
                Term::List(bytes.iter().map(|&b| Term::Integer(b.into())).collect())
            }
            LIST => {
                let n = self.u32()?.into();
                // The tail takes at least one byte too.
                let n = self.count(n, 1, at)?;
                return Ok(Begun::Open(Open::List {
                    items: Vec::with_capacity(n.min(PREALLOCATE)),
                    left: n,
                    at,
                }));
            }
            BINARY => {
                let n = self.u32()?;
                let n = self.count(n.into(), 1, at)?;
                Term::Binary(self.take(n)?.to_vec())
            }
            BIT_BINARY => {
                let n = self.u32()?;
                let bits = self.u8()?;
                let n = self.count(n.into(), 1, at)?;
                if !(1..=8).contains(&bits) || n == 0 {
                    return Err(DecodeError::Invalid {
                        what: "bitstring",
                        at,
                    });
                }
                let mut bytes = self.take(n)?.to_vec();
                // The unused low bits of the last byte are zero by definition.
                if let Some(last) = bytes.last_mut() {
                    *last &= 0xffu8 << (8 - bits);
                }
                if bits == 8 {
                    Term::Binary(bytes)
                } else {
                    Term::BitBinary { bytes, bits }
                }
            }
            SMALL_BIG => {
                let n = self.u8()?.into();
                self.big(n, at)?
            }
            LARGE_BIG => {
                let n = self.u32()?.into();
                self.big(n, at)?
            }
            MAP => {
                let n = self.u32()?.into();
                let n = self.count(n, 2, at)?;
                if n == 0 {
                    Term::Map(Vec::new())
                } else {
                    return Ok(Begun::Open(Open::Map {
                        pairs: Vec::with_capacity(n.min(PREALLOCATE)),
                        key: None,
                        left: n,
                    }));
                }
            }
            PID | NEW_PID => {
                let node = self.node_atom()?;
                let id = self.u32()?;
                let serial = self.u32()?;
                let creation = if tag == PID {
                    self.u8()?.into()
                } else {
                    self.u32()?
                };
                Term::Pid(ExternalPid {
                    node,
                    id,
                    serial,
                    creation,
                })
            }
            PORT | NEW_PORT | V4_PORT => {
                let node = self.node_atom()?;
                let id = if tag == V4_PORT {
                    self.u64()?
                } else {
                    self.u32()?.into()
                };
                let creation = if tag == PORT {
                    self.u8()?.into()
                } else {
                    self.u32()?
                };
                Term::Port(ExternalPort { node, id, creation })
            }
            REFERENCE => {
                let node = self.node_atom()?;
                let id = vec![self.u32()?];
                let creation = self.u8()?.into();
                Term::Ref(ExternalRef { node, creation, id })
            }
            NEW_REFERENCE | NEWER_REFERENCE => {
                let words = usize::from(self.u16()?);
                if !(1..=5).contains(&words) {
                    return Err(DecodeError::Invalid {
                        what: "reference",
                        at,
                    });
                }
                let node = self.node_atom()?;
                let creation = if tag == NEW_REFERENCE {
                    self.u8()?.into()
                } else {
                    self.u32()?
                };
                let mut id = Vec::with_capacity(words);
                for _ in 0..words {
                    id.push(self.u32()?);
                }
                Term::Ref(ExternalRef { node, creation, id })
            }
            EXPORT => {
                let module = self.node_atom()?;
                let function = self.node_atom()?;
                // The arity is a SMALL_INTEGER_EXT.
                let arity_at = self.pos;
                if self.u8()? != SMALL_INTEGER {
                    return Err(DecodeError::Invalid {
                        what: "fun arity",
                        at: arity_at,
                    });
                }
                Term::Export {
                    module,
                    function,
                    arity: self.u8()?,
                }
            }
            NEW_FUN => {
                // Size counts itself and everything after the tag; keep the encoded fun whole.
                let size = self.u32()?;
                let body = self.count(size.into(), 1, at)?;
                if body < 4 {
                    return Err(DecodeError::Invalid { what: "fun", at });
                }
                self.take(body - 4)?;
                Term::Fun(self.bytes[at..self.pos].to_vec())
            }
            COMPRESSED => return Err(DecodeError::UnknownTag { tag, at }),
            _ => return Err(DecodeError::UnknownTag { tag, at }),
        }))
    }

    fn big(&mut self, declared: u64, at: usize) -> Result<Term, DecodeError> {
        let n = self.count(declared, 1, at)?;
        let sign = self.u8()?;
        if sign > 1 {
            return Err(DecodeError::Invalid {
                what: "integer sign",
                at,
            });
        }
        let big = BigInt::from_parts(sign == 1, self.take(n)?);
        Ok(match big.to_i64() {
            Some(small) => Term::Integer(small),
            None => Term::BigInt(big),
        })
    }

    /// The atom that must come next (a node name, a module...).
    fn node_atom(&mut self) -> Result<Atom, DecodeError> {
        let at = self.pos;
        let tag = self.u8()?;
        match tag {
            ATOM | SMALL_ATOM | ATOM_UTF8 | SMALL_ATOM_UTF8 => self.atom_body(tag, at),
            _ => Err(DecodeError::Invalid { what: "atom", at }),
        }
    }

    fn atom_body(&mut self, tag: u8, at: usize) -> Result<Atom, DecodeError> {
        let n = match tag {
            ATOM | ATOM_UTF8 => usize::from(self.u16()?),
            _ => usize::from(self.u8()?),
        };
        let bytes = self.take(n)?;
        let name: String = match tag {
            // Latin-1: every byte is a code point.
            ATOM | SMALL_ATOM => bytes.iter().map(|&b| char::from(b)).collect(),
            _ => std::str::from_utf8(bytes)
                .map_err(|_| DecodeError::BadAtom(at))?
                .to_owned(),
        };
        if name.chars().count() > MAX_ATOM_CHARS {
            return Err(DecodeError::BadAtom(at));
        }
        Ok(Atom::new(&name))
    }

    /// `80, uncompressed size (4), zlib data`: inflate at most the declared size (and the
    /// limit), then decode exactly that many bytes as one term.
    fn compressed(&mut self) -> Result<Term, DecodeError> {
        let size = self.u32()? as usize;
        if size > self.limits.max_inflated {
            return Err(DecodeError::BadCompression(
                "declared size is over the inflation limit",
            ));
        }
        let data = &self.bytes[self.pos..];
        let mut z = flate2::read::ZlibDecoder::new(data);
        let mut inflated = Vec::with_capacity(size.min(data.len().saturating_mul(8)));
        // One byte more than declared, to tell "larger than declared" from "exactly".
        (&mut z)
            .take(size as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|_| DecodeError::BadCompression("corrupt zlib data"))?;
        if inflated.len() != size {
            return Err(DecodeError::BadCompression(
                "inflated size differs from the declared size",
            ));
        }
        self.pos += z.total_in() as usize;
        let mut inner = Reader {
            bytes: &inflated,
            pos: 0,
            limits: self.limits,
        };
        let term = inner.term()?;
        if inner.pos != inflated.len() {
            return Err(DecodeError::BadCompression(
                "bytes left after the inflated term",
            ));
        }
        Ok(term)
    }
}
