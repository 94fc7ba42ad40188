//! Rust values to terms.

use serde::ser::{self, Serialize};

use super::{SerdeError, TERM_TOKEN};
use crate::term::{Atom, BigInt, Term};

/// Turn a Rust value into a term (the mapping is the table in [`serde`](crate::serde)).
///
/// # Errors
///
/// [`SerdeError`] for what has no term: a map key that fails to serialize, a NaN float.
pub fn to_term<T: Serialize + ?Sized>(value: &T) -> Result<Term, SerdeError> {
    value.serialize(TermSerializer)
}

/// The serializer behind [`to_term`].
#[derive(Debug, Clone, Copy)]
pub struct TermSerializer;

fn tagged(variant: &str, rest: impl IntoIterator<Item = Term>) -> Term {
    Term::Tuple(std::iter::once(Term::atom(variant)).chain(rest).collect())
}

impl ser::Serializer for TermSerializer {
    type Ok = Term;
    type Error = SerdeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = TupleBuilder;
    type SerializeTupleStruct = TupleBuilder;
    type SerializeTupleVariant = TupleBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Term, SerdeError> {
        Ok(match i64::try_from(v) {
            Ok(n) => Term::Integer(n),
            Err(_) => Term::BigInt(BigInt::from(v)),
        })
    }
    fn serialize_u8(self, v: u8) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Term, SerdeError> {
        Ok(match i64::try_from(v) {
            Ok(n) => Term::Integer(n),
            Err(_) => Term::BigInt(BigInt::from(v)),
        })
    }
    fn serialize_f32(self, v: f32) -> Result<Term, SerdeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Term, SerdeError> {
        if v.is_finite() {
            Ok(Term::Float(v))
        } else {
            Err(SerdeError::Message(format!(
                "{v} has no Erlang term (floats are finite)"
            )))
        }
    }
    /// A character is its code point, as `$a` is 97 in Erlang.
    fn serialize_char(self, v: char) -> Result<Term, SerdeError> {
        Ok(Term::Integer(u32::from(v).into()))
    }
    fn serialize_str(self, v: &str) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Term, SerdeError> {
        Ok(Term::Binary(v.to_vec()))
    }
    /// `None` is Elixir's `nil`.
    fn serialize_none(self) -> Result<Term, SerdeError> {
        Ok(Term::atom("nil"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Term, SerdeError> {
        value.serialize(self)
    }
    /// `()` is `ok`, the reply of an Erlang call that has nothing to say.
    fn serialize_unit(self) -> Result<Term, SerdeError> {
        Ok(Term::atom("ok"))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Term, SerdeError> {
        Ok(Term::atom(name))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Term, SerdeError> {
        Ok(Term::atom(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Term, SerdeError> {
        if name == TERM_TOKEN {
            // A `Term` inside a Rust value: it serialized itself as its encoded bytes.
            return match value.serialize(self)? {
                Term::Binary(bytes) => Term::decode(&bytes).map_err(SerdeError::from),
                _ => Err(SerdeError::Message(
                    "a Term did not serialize as bytes".into(),
                )),
            };
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Term, SerdeError> {
        Ok(tagged(variant, [value.serialize(self)?]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, SerdeError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0).min(4096))))
    }
    fn serialize_tuple(self, len: usize) -> Result<TupleBuilder, SerdeError> {
        Ok(TupleBuilder {
            tag: None,
            items: Vec::with_capacity(len.min(4096)),
        })
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<TupleBuilder, SerdeError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleBuilder, SerdeError> {
        Ok(TupleBuilder {
            tag: Some(variant),
            items: Vec::with_capacity(len.min(4096)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, SerdeError> {
        Ok(MapBuilder {
            tag: None,
            pairs: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapBuilder, SerdeError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapBuilder, SerdeError> {
        Ok(MapBuilder {
            tag: Some(variant),
            pairs: Vec::with_capacity(len.min(4096)),
            key: None,
        })
    }
}

/// Builds a list.
#[derive(Debug)]
pub struct SeqBuilder(Vec<Term>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.0.push(value.serialize(TermSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(Term::List(self.0))
    }
}

/// Builds a tuple, tagged for an enum variant.
#[derive(Debug)]
pub struct TupleBuilder {
    tag: Option<&'static str>,
    items: Vec<Term>,
}

impl TupleBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.items.push(value.serialize(TermSerializer)?);
        Ok(())
    }
    fn finish(self) -> Term {
        match self.tag {
            Some(tag) => tagged(tag, self.items),
            None => Term::Tuple(self.items),
        }
    }
}

impl ser::SerializeTuple for TupleBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.push(value)
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for TupleBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.push(value)
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for TupleBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.push(value)
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

/// Builds a map; for a struct, with atom keys; for a struct variant, tagged.
#[derive(Debug)]
pub struct MapBuilder {
    tag: Option<&'static str>,
    pairs: Vec<(Term, Term)>,
    key: Option<Term>,
}

impl MapBuilder {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), SerdeError> {
        self.pairs
            .push((Term::Atom(Atom::new(key)), value.serialize(TermSerializer)?));
        Ok(())
    }
    fn finish(self) -> Term {
        let map = Term::Map(self.pairs);
        match self.tag {
            Some(tag) => tagged(tag, [map]),
            None => map,
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerdeError> {
        self.key = Some(key.serialize(TermSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerdeError::Message("a map value came without its key".into()))?;
        self.pairs.push((key, value.serialize(TermSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerdeError> {
        self.field(key, value)
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Term;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerdeError> {
        self.field(key, value)
    }
    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}
