//! Terraform's values as they cross the wire: cty types, values with null and unknown
//! (refined unknowns included), and numbers of arbitrary precision, with codecs for the
//! msgpack and JSON encodings.

mod json;
mod msgpack;
mod number;
mod types;

use std::collections::BTreeMap;

pub use json::decode_json;
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use number::Number;
pub use types::Type;

/// A decoding or encoding failure, with the path inside the value where it happened.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{message} at {path}")]
pub struct CodecError {
    pub path: String,
    pub message: String,
}

impl CodecError {
    pub(crate) fn new(path: &[String], message: impl Into<String>) -> Self {
        let path = if path.is_empty() { "the value's root".to_string() } else { path.concat() };
        CodecError { path, message: message.into() }
    }
}

/// What Terraform knows about an unknown value before it is known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refinements {
    /// `Some(false)`: definitely not null.
    pub null: Option<bool>,
    pub string_prefix: Option<String>,
    /// A bound and whether it is inclusive.
    pub number_min: Option<(Number, bool)>,
    pub number_max: Option<(Number, bool)>,
    pub length_min: Option<i64>,
    pub length_max: Option<i64>,
}

impl Refinements {
    pub fn is_empty(&self) -> bool {
        *self == Refinements::default()
    }
}

/// A Terraform value. Collections keep the shape they have on the wire: sets stay in their
/// received order, maps and objects are ordered by key as msgpack requires.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Unknown(Refinements),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
}

impl Value {
    pub fn unknown() -> Value {
        Value::Unknown(Refinements::default())
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// An object's attribute; unknown under an unknown object (what it holds is not known yet,
    /// which is not the same as absent), `Null` for a missing attribute or a non-object.
    pub fn attr(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        static UNKNOWN: Value = Value::Unknown(Refinements {
            null: None,
            string_prefix: None,
            number_min: None,
            number_max: None,
            length_min: None,
            length_max: None,
        });
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            Value::Unknown(_) => &UNKNOWN,
            _ => &NULL,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// A map of strings, as a map attribute arrives; `None` when null, unknown or not a map.
    pub fn as_string_map(&self) -> Option<BTreeMap<String, String>> {
        match self {
            Value::Map(m) | Value::Object(m) => {
                m.iter().map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect()
            }
            _ => None,
        }
    }

    /// The elements of a list, set or tuple.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
