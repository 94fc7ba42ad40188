//! Encoding terms in the External Term Format, in the forms OTP 25+ reads: UTF-8 atoms,
//! `NEW_PID_EXT`, `NEWER_REFERENCE_EXT`, `V4_PORT_EXT` when needed, `NEW_FLOAT_EXT`.

use super::atom::MAX_ATOM_CHARS;
use super::decode::DecodeLimits;
use super::{Atom, BigInt, Term};

/// What the External Term Format cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Atoms hold at most 255 characters.
    #[error("atom of {0} characters: atoms hold at most 255")]
    AtomTooLong(usize),
    /// References hold 1 to 5 words.
    #[error("a reference of {0} words: references hold 1 to 5")]
    BadReference(usize),
    /// A bitstring's last byte holds 1 to 7 bits (8 is a binary), and it has at least a byte.
    #[error("a bitstring with {0} bits in its last byte: 1 to 7, and at least one byte")]
    BadBitstring(u8),
    /// A float that is not a number: Erlang has no NaN or infinity.
    #[error("NaN and infinity are not Erlang floats")]
    NotFinite,
    /// Deeper than the decoder would accept back.
    #[error("terms nest deeper than {0} levels")]
    TooDeep(usize),
    /// A length beyond the format's 32 bits.
    #[error("{0} elements or bytes: the format holds at most 2^32 - 1")]
    TooLarge(usize),
    /// A fun kept from a decode that is not a `NEW_FUN_EXT`.
    #[error("a fun that was not decoded from a NEW_FUN_EXT")]
    BadFun,
}

/// What is left to write: terms, and the `NIL_EXT` that ends a proper list.
enum Step<'a> {
    Term(&'a Term, usize),
    Nil,
}

/// Write `term`. Iterative, as the decoder is: the nesting bound, not the thread's stack,
/// decides what can be encoded.
pub(super) fn encode(term: &Term, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let max = DecodeLimits::default().max_depth;
    let mut todo = vec![Step::Term(term, 0)];
    while let Some(step) = todo.pop() {
        let (term, depth) = match step {
            Step::Term(term, depth) => (term, depth),
            Step::Nil => {
                out.push(106);
                continue;
            }
        };
        // As the decoder counts: `[]`, `{}` and `#{}` hold nothing and nest nothing.
        let is_container = match term {
            Term::List(items) | Term::Tuple(items) => !items.is_empty(),
            Term::Map(pairs) => !pairs.is_empty(),
            Term::ImproperList(..) => true,
            _ => false,
        };
        if is_container && depth >= max {
            return Err(EncodeError::TooDeep(max));
        }
        // Children are pushed last first, so that they are written in order.
        let inner = depth + 1;
        match term {
            Term::List(items) if items.is_empty() => out.push(106),
            Term::List(items) => {
                out.push(108);
                len32(items.len(), out)?;
                todo.push(Step::Nil);
                todo.extend(items.iter().rev().map(|t| Step::Term(t, inner)));
            }
            Term::ImproperList(items, tail) => {
                out.push(108);
                len32(items.len(), out)?;
                todo.push(Step::Term(tail, inner));
                todo.extend(items.iter().rev().map(|t| Step::Term(t, inner)));
            }
            Term::Tuple(items) => {
                match u8::try_from(items.len()) {
                    Ok(n) => out.extend_from_slice(&[104, n]),
                    Err(_) => {
                        out.push(105);
                        len32(items.len(), out)?;
                    }
                }
                todo.extend(items.iter().rev().map(|t| Step::Term(t, inner)));
            }
            Term::Map(pairs) => {
                out.push(116);
                len32(pairs.len(), out)?;
                for (k, v) in pairs.iter().rev() {
                    todo.push(Step::Term(v, inner));
                    todo.push(Step::Term(k, inner));
                }
            }
            leaf => scalar(leaf, out)?,
        }
    }
    Ok(())
}

/// Write a term that holds no other terms.
fn scalar(term: &Term, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match term {
        Term::Atom(a) => atom(a, out)?,
        Term::Integer(n) => integer(*n, out),
        Term::BigInt(b) => big(b, out)?,
        Term::Float(x) => {
            if !x.is_finite() {
                return Err(EncodeError::NotFinite);
            }
            out.push(70);
            out.extend_from_slice(&x.to_bits().to_be_bytes());
        }
        Term::Binary(b) => {
            out.push(109);
            len32(b.len(), out)?;
            out.extend_from_slice(b);
        }
        Term::BitBinary { bytes, bits } => {
            if !(1..=7).contains(bits) || bytes.is_empty() {
                return Err(EncodeError::BadBitstring(*bits));
            }
            out.push(77);
            len32(bytes.len(), out)?;
            out.push(*bits);
            out.extend_from_slice(bytes);
        }
        Term::Pid(p) => {
            out.push(88);
            atom(&p.node, out)?;
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.serial.to_be_bytes());
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Port(p) => {
            match u32::try_from(p.id) {
                Ok(id) => {
                    out.push(89);
                    atom(&p.node, out)?;
                    out.extend_from_slice(&id.to_be_bytes());
                }
                Err(_) => {
                    out.push(120);
                    atom(&p.node, out)?;
                    out.extend_from_slice(&p.id.to_be_bytes());
                }
            }
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Ref(r) => {
            if !(1..=5).contains(&r.id.len()) {
                return Err(EncodeError::BadReference(r.id.len()));
            }
            out.push(90);
            out.extend_from_slice(&(r.id.len() as u16).to_be_bytes());
            atom(&r.node, out)?;
            out.extend_from_slice(&r.creation.to_be_bytes());
            for w in &r.id {
                out.extend_from_slice(&w.to_be_bytes());
            }
        }
        Term::Export {
            module,
            function,
            arity,
        } => {
            out.push(113);
            atom(module, out)?;
            atom(function, out)?;
            out.extend_from_slice(&[97, *arity]);
        }
        Term::Fun(bytes) => {
            if bytes.first() != Some(&112) {
                return Err(EncodeError::BadFun);
            }
            out.extend_from_slice(bytes);
        }
        Term::List(_) | Term::ImproperList(..) | Term::Tuple(_) | Term::Map(_) => {
            unreachable!("containers are written by `encode`")
        }
    }
    Ok(())
}

fn len32(n: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let n32 = u32::try_from(n).map_err(|_| EncodeError::TooLarge(n))?;
    out.extend_from_slice(&n32.to_be_bytes());
    Ok(())
}

fn atom(a: &Atom, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let name = a.as_str();
    let chars = name.chars().count();
    if chars > MAX_ATOM_CHARS {
        return Err(EncodeError::AtomTooLong(chars));
    }
    match u8::try_from(name.len()) {
        Ok(n) => out.extend_from_slice(&[119, n]),
        Err(_) => {
            out.push(118);
            out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn integer(n: i64, out: &mut Vec<u8>) {
    if let Ok(small) = u8::try_from(n) {
        out.extend_from_slice(&[97, small]);
    } else if let Ok(int) = i32::try_from(n) {
        out.push(98);
        out.extend_from_slice(&int.to_be_bytes());
    } else {
        let magnitude = n.unsigned_abs().to_le_bytes();
        let used = 8 - magnitude.iter().rev().take_while(|&&b| b == 0).count();
        out.extend_from_slice(&[110, used as u8, u8::from(n < 0)]);
        out.extend_from_slice(&magnitude[..used]);
    }
}

fn big(b: &BigInt, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if let Some(n) = b.to_i64() {
        integer(n, out);
        return Ok(());
    }
    let m = b.magnitude_le();
    match u8::try_from(m.len()) {
        Ok(n) => out.extend_from_slice(&[110, n]),
        Err(_) => {
            out.push(111);
            len32(m.len(), out)?;
        }
    }
    out.push(u8::from(b.is_negative()));
    out.extend_from_slice(m);
    Ok(())
}
