//! Terms to Rust values.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::{SerdeError, TERM_TOKEN};
use crate::term::Term;

/// Turn a term into a Rust value (the mapping is the table in [`serde`](crate::serde)).
///
/// # Errors
///
/// [`SerdeError`] naming what was expected and the term found instead.
pub fn from_term<T: DeserializeOwned>(term: Term) -> Result<T, SerdeError> {
    T::deserialize(TermDeserializer(term))
}

/// The deserializer behind [`from_term`].
#[derive(Debug)]
pub struct TermDeserializer(pub Term);

fn unexpected(term: &Term, expected: &'static str) -> SerdeError {
    let mut shown = term.to_string();
    if shown.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    SerdeError::Unexpected {
        expected,
        found: shown,
    }
}

/// The text of a binary, a charlist or an atom.
fn text(term: Term) -> Result<String, SerdeError> {
    match term {
        Term::Binary(b) => String::from_utf8(b)
            .map_err(|e| unexpected(&Term::Binary(e.into_bytes()), "UTF-8 text")),
        Term::Atom(a) => Ok(a.as_str().to_owned()),
        other => other.as_text().ok_or_else(|| unexpected(&other, "text")),
    }
}

macro_rules! integer {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
            let value = match &self.0 {
                Term::Integer(n) => <$ty>::try_from(*n).ok(),
                Term::BigInt(b) => b.to_i128().and_then(|n| <$ty>::try_from(n).ok()),
                _ => None,
            };
            match value {
                Some(v) => visitor.$visit(v),
                None => Err(unexpected(&self.0, stringify!($ty))),
            }
        }
    };
}

impl<'de> de::Deserializer<'de> for TermDeserializer {
    type Error = SerdeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Atom(a) => match a.as_str() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                "nil" | "undefined" => visitor.visit_unit(),
                name => visitor.visit_str(name),
            },
            Term::Integer(n) => visitor.visit_i64(n),
            Term::BigInt(b) => match (b.to_i128(), b.to_u128()) {
                (Some(n), _) => visitor.visit_i128(n),
                (_, Some(n)) => visitor.visit_u128(n),
                _ => Err(unexpected(
                    &Term::BigInt(b),
                    "an integer of at most 128 bits",
                )),
            },
            Term::Float(x) => visitor.visit_f64(x),
            Term::Binary(b) => match String::from_utf8(b) {
                Ok(s) => visitor.visit_string(s),
                Err(e) => visitor.visit_byte_buf(e.into_bytes()),
            },
            Term::List(items) | Term::Tuple(items) => visitor.visit_seq(Seq(items.into_iter())),
            Term::Map(pairs) => visitor.visit_map(Map {
                pairs: pairs.into_iter(),
                value: None,
            }),
            other => Err(unexpected(&other, "a value with a Rust form")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0.as_atom() {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            _ => Err(unexpected(&self.0, "true or false")),
        }
    }

    integer!(deserialize_i8, visit_i8, i8);
    integer!(deserialize_i16, visit_i16, i16);
    integer!(deserialize_i32, visit_i32, i32);
    integer!(deserialize_i64, visit_i64, i64);
    integer!(deserialize_i128, visit_i128, i128);
    integer!(deserialize_u8, visit_u8, u8);
    integer!(deserialize_u16, visit_u16, u16);
    integer!(deserialize_u32, visit_u32, u32);
    integer!(deserialize_u64, visit_u64, u64);

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        let value = match &self.0 {
            Term::Integer(n) => u128::try_from(*n).ok(),
            Term::BigInt(b) => b.to_u128(),
            _ => None,
        };
        match value {
            Some(v) => visitor.visit_u128(v),
            None => Err(unexpected(&self.0, "u128")),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.deserialize_f64(visitor)
    }

    /// Integers are accepted where a float is expected (Elixir's `1` for `1.0`).
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Float(x) => visitor.visit_f64(x),
            Term::Integer(n) => visitor.visit_f64(n as f64),
            other => Err(unexpected(&other, "a float")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        let c = match &self.0 {
            Term::Integer(n) => u32::try_from(*n).ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => visitor.visit_char(c),
            None => Err(unexpected(&self.0, "a character code point")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        visitor.visit_string(text(self.0)?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        visitor.visit_string(text(self.0)?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Binary(b) => visitor.visit_byte_buf(b),
            other => Err(unexpected(&other, "a binary")),
        }
    }

    /// `nil` (Elixir) and `undefined` (Erlang) are `None`; anything else is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0.as_atom() {
            Some("nil" | "undefined") => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// `ok` (and `nil`, and `{}`) is `()`.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match &self.0 {
            Term::Atom(a) if matches!(a.as_str(), "ok" | "nil") => visitor.visit_unit(),
            Term::Tuple(t) if t.is_empty() => visitor.visit_unit(),
            _ => Err(unexpected(&self.0, "ok")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Atom(_) => visitor.visit_unit(),
            other => Err(unexpected(&other, "an atom")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        if name == TERM_TOKEN {
            // A `Term` field: hand it over whole, as its encoding.
            return visitor.visit_byte_buf(self.0.encode()?);
        }
        visitor.visit_newtype_struct(self)
    }

    /// A list, a tuple, or a binary (as its bytes).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::List(items) | Term::Tuple(items) => visitor.visit_seq(Seq(items.into_iter())),
            Term::Binary(b) => visitor.visit_seq(Seq(b
                .into_iter()
                .map(|byte| Term::Integer(byte.into()))
                .collect::<Vec<_>>()
                .into_iter())),
            other => Err(unexpected(&other, "a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Tuple(items) | Term::List(items) if items.len() == len => {
                visitor.visit_seq(Seq(items.into_iter()))
            }
            other => Err(unexpected(&other, "a tuple of the right size")),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Map(pairs) => visitor.visit_map(Map {
                pairs: pairs.into_iter(),
                value: None,
            }),
            other => Err(unexpected(&other, "a map")),
        }
    }

    /// A map with atom (or string) keys; keys the struct does not have are ignored (an Elixir
    /// struct's `__struct__` among them).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        self.deserialize_map(visitor)
    }

    /// An atom for a unit variant; `{tag, ...}` for the others.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        match self.0 {
            Term::Atom(a) => visitor.visit_enum(a.as_str().to_owned().into_deserializer()),
            Term::Tuple(items) if !items.is_empty() => {
                let mut items = items.into_iter();
                let tag = items.next().expect("non-empty");
                let Term::Atom(tag) = tag else {
                    return Err(unexpected(&tag, "an atom tagging an enum variant"));
                };
                visitor.visit_enum(Variant {
                    tag: tag.as_str().to_owned(),
                    rest: items.collect(),
                })
            }
            other => Err(unexpected(&other, "an atom or a tagged tuple")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        visitor.visit_string(text(self.0)?)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        visitor.visit_unit()
    }
}

struct Seq(std::vec::IntoIter<Term>);

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = SerdeError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SerdeError> {
        match self.0.next() {
            Some(t) => seed.deserialize(TermDeserializer(t)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map {
    pairs: std::vec::IntoIter<(Term, Term)>,
    value: Option<Term>,
}

impl<'de> de::MapAccess<'de> for Map {
    type Error = SerdeError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SerdeError> {
        match self.pairs.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(TermDeserializer(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, SerdeError> {
        let v = self.value.take().ok_or_else(|| {
            SerdeError::Message("a map value was asked for before its key".into())
        })?;
        seed.deserialize(TermDeserializer(v))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.pairs.len())
    }
}

struct Variant {
    tag: String,
    rest: Vec<Term>,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = SerdeError;
    type Variant = VariantBody;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantBody), SerdeError> {
        let tag: de::value::StringDeserializer<SerdeError> = self.tag.into_deserializer();
        Ok((seed.deserialize(tag)?, VariantBody(self.rest)))
    }
}

struct VariantBody(Vec<Term>);

impl<'de> de::VariantAccess<'de> for VariantBody {
    type Error = SerdeError;
    fn unit_variant(self) -> Result<(), SerdeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(SerdeError::Message(
                "a unit variant came with values".into(),
            ))
        }
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, SerdeError> {
        let mut rest = self.0;
        match rest.len() {
            1 => seed.deserialize(TermDeserializer(rest.pop().expect("one"))),
            n => Err(SerdeError::Message(format!(
                "a variant with one value came with {n}"
            ))),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        if self.0.len() != len {
            return Err(SerdeError::Message(format!(
                "a variant with {len} values came with {}",
                self.0.len()
            )));
        }
        visitor.visit_seq(Seq(self.0.into_iter()))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        let mut rest = self.0;
        match (rest.len(), rest.pop()) {
            (1, Some(Term::Map(pairs))) => visitor.visit_map(Map {
                pairs: pairs.into_iter(),
                value: None,
            }),
            _ => Err(SerdeError::Message(
                "a struct variant is {tag, #{field => value}}".into(),
            )),
        }
    }
}
