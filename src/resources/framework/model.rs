//! Typed models of resource states: one struct per resource (or per group of attributes that
//! several resources share), declared once with [`model!`], from which come the schema's
//! attributes, the reading of a Terraform value and the writing of one. A field is a
//! [`Field`], so that a value not known until apply can never be read as an absent one.

use std::collections::BTreeMap;

use crate::tfplugin::diag::{AttrPath, Diagnostic};
use crate::tfplugin::schema::AttributeType;
use crate::tfplugin::value::{Type, Value};

/// One attribute's value as Terraform knows it at this point.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Null,
    /// Known only after apply, wholly or in part.
    Unknown,
    Known(T),
}

impl<T> Field<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Field::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Field::Unknown)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }
}

impl<T: Clone> Field<T> {
    /// The value, or `default` when null; `None` while unknown.
    pub fn or(&self, default: T) -> Option<T> {
        match self {
            Field::Known(v) => Some(v.clone()),
            Field::Null => Some(default),
            Field::Unknown => None,
        }
    }
}

impl Field<String> {
    pub fn as_deref(&self) -> Option<&str> {
        self.known().map(String::as_str)
    }
}

/// A Rust type a model field can hold: its schema type, and its conversion from and to a
/// Terraform value (wholly known and not null: [`Field`] handles the rest).
pub trait FieldType: Sized {
    fn attribute_type() -> AttributeType;
    /// `None` when the value has another shape, which the schema's type rules out.
    fn decode(value: &Value) -> Option<Self>;
    fn encode(&self) -> Value;
}

/// The plain field types: their schema type, how to read one, how to write one.
macro_rules! plain_field_types {
    ($($ty:ty: $schema:expr, |$r:ident| $read:expr, |$w:ident| $write:expr;)*) => {$(
        impl FieldType for $ty {
            fn attribute_type() -> AttributeType {
                $schema.into()
            }
            fn decode($r: &Value) -> Option<Self> {
                $read
            }
            fn encode(&self) -> Value {
                let $w = self;
                $write
            }
        }
    )*};
}

plain_field_types! {
    String: Type::String, |v| v.as_str().map(str::to_string), |s| Value::string(s);
    // A number with a fraction, or beyond i64, has no i64: validators refuse it first.
    i64: Type::Number, |v| v.as_i64(), |n| Value::int(*n);
    bool: Type::Bool, |v| v.as_bool(), |b| Value::Bool(*b);
    BTreeMap<String, String>: Type::map(Type::String), |v| v.as_string_map(),
        |m| Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::string(v))).collect());
    Vec<String>: Type::list(Type::String), |v| v.elements()?.iter().map(|e| e.as_str().map(str::to_string)).collect(),
        |l| Value::List(l.iter().map(Value::string).collect());
}

impl<T: FieldType> Field<T> {
    /// Reads one attribute; `path` names it in the error a value of the wrong shape gives.
    pub fn decode(value: &Value, path: impl FnOnce() -> AttrPath) -> Result<Field<T>, Diagnostic> {
        match value {
            Value::Null => Ok(Field::Null),
            // Nested attributes keep what is known of them: their own fields say what is not.
            v if !v.is_wholly_known() && !matches!(T::attribute_type(), AttributeType::Nested(..)) => {
                Ok(Field::Unknown)
            }
            Value::Unknown(_) => Ok(Field::Unknown),
            v => T::decode(v).map(Field::Known).ok_or_else(|| {
                // What the schema's type allows but this field cannot hold: a null inside a
                // list, a number with a fraction where a whole one is meant.
                Diagnostic::error("Invalid value", format!("This value cannot be used here: {v:?}.")).at(path())
            }),
        }
    }

    pub fn encode(&self) -> Value {
        match self {
            Field::Null => Value::Null,
            Field::Unknown => Value::unknown(),
            Field::Known(v) => v.encode(),
        }
    }
}

/// Declares a model: a struct of [`Field`]s, a module of its attribute names (so that code
/// names an attribute through the compiler, never by a string literal), and the schema
/// attributes each field is, built by an `Attribute` constructor that takes the field's name
/// and the type that follows from its Rust type:
///
/// ```ignore
/// model! {
///     pub struct Topic in names {
///         name: String = required("Topic name.").requires_replace();
///         partitions: i64 = required("Number of partitions.");
///     }
/// }
/// ```
///
/// A model is also a field type, as nested attributes (`resources = { cpu = ... }`).
macro_rules! model {
    ($(#[$meta:meta])* $vis:vis struct $model:ident in $names:ident {
        $( $field:ident : $ty:ty = $kind:ident ( $($arg:expr),* $(,)? ) $(. $modifier:ident ( $($marg:expr),* $(,)? ))* ; )*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq)]
        $vis struct $model {
            $( pub $field: $crate::resources::framework::Field<$ty>, )*
        }

        #[allow(non_upper_case_globals, dead_code)]
        $vis mod $names {
            $( pub const $field: &str = stringify!($field); )*
        }

        #[allow(dead_code)]
        impl $model {
            pub fn attributes() -> Vec<$crate::tfplugin::schema::Attribute> {
                vec![$(
                    $crate::tfplugin::schema::Attribute::$kind(
                        stringify!($field),
                        <$ty as $crate::resources::framework::FieldType>::attribute_type(),
                        $($arg),*
                    ) $(.$modifier($($marg),*))*
                ),*]
            }

            /// Reads the model from an object value (a state, plan or configuration); the
            /// attributes of other models in the same object are ignored.
            pub fn read(value: &$crate::tfplugin::value::Value) -> Result<Self, $crate::tfplugin::diag::Diagnostics> {
                Self::read_at(value, &$crate::tfplugin::diag::AttrPath::default())
            }

            /// [`Self::read`] for a model nested at `at`, which errors name.
            pub fn read_at(
                value: &$crate::tfplugin::value::Value,
                at: &$crate::tfplugin::diag::AttrPath,
            ) -> Result<Self, $crate::tfplugin::diag::Diagnostics> {
                let mut errors = $crate::tfplugin::diag::Diagnostics::default();
                let model = $model {
                    $( $field: $crate::resources::framework::Field::decode(value.attr(stringify!($field)), || {
                        let mut path = at.clone();
                        path.0.push($crate::tfplugin::diag::PathStep::Attr(stringify!($field).into()));
                        path
                    }).unwrap_or_else(|d| { errors.push(d); Default::default() }), )*
                };
                if errors.is_empty() { Ok(model) } else { Err(errors) }
            }

            /// Writes every field of the model into an object value, leaving other attributes.
            pub fn write(&self, object: &mut std::collections::BTreeMap<String, $crate::tfplugin::value::Value>) {
                $( object.insert(stringify!($field).to_string(), self.$field.encode()); )*
            }

            pub fn to_value(&self) -> $crate::tfplugin::value::Value {
                let mut object = std::collections::BTreeMap::new();
                self.write(&mut object);
                $crate::tfplugin::value::Value::Object(object)
            }
        }

        impl $crate::resources::framework::FieldType for $model {
            fn attribute_type() -> $crate::tfplugin::schema::AttributeType {
                $crate::tfplugin::schema::AttributeType::Nested(
                    $crate::tfplugin::schema::Nesting::Single,
                    Self::attributes(),
                )
            }
            fn decode(value: &$crate::tfplugin::value::Value) -> Option<Self> {
                Self::read(value).ok()
            }
            fn encode(&self) -> $crate::tfplugin::value::Value {
                self.to_value()
            }
        }
    };
}

pub(crate) use model;
