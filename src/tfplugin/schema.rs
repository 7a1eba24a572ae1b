//! Schemas of the provider and its resources, built in code and sent to Terraform. The value
//! type Terraform encodes a resource with is derived from the same schema, so the two never
//! disagree.

use std::fmt;
use std::sync::Arc;

use super::proto;
use super::value::{Type, Value};

#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
}

#[derive(Clone, Debug)]
pub enum AttributeType {
    Plain(Type),
    /// Nested attributes (`connection = { ... }`), as opposed to nested blocks.
    Nested(Nesting, Vec<Attribute>),
}

impl From<Type> for AttributeType {
    fn from(ty: Type) -> Self {
        AttributeType::Plain(ty)
    }
}

/// A check of one known, non-null value of an attribute: what is wrong with it, if anything.
/// Validation runs it on the configuration; the diagnostic carries `summary` and the path.
#[derive(Clone)]
pub struct Validator {
    pub summary: &'static str,
    pub check: Check,
}

/// What is wrong with a value, if anything.
pub type Check = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Validator({:?})", self.summary)
    }
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub ty: AttributeType,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// Sent by Terraform in the configuration only, never kept in a plan or a state (Terraform
    /// 1.11 and later): a password, for instance.
    pub write_only: bool,
    /// What the plan puts in place of a null configuration value (optional and computed
    /// attributes): declared here once, so that plan, docs and the model read the same one.
    pub default: Option<Value>,
    /// A planned value that differs from the prior state's, or is not known yet, replaces the
    /// resource.
    pub requires_replace: bool,
    /// A computed value that an update leaves as it was, instead of unknown until apply.
    pub use_state_for_unknown: bool,
    pub validators: Vec<Validator>,
}

impl Attribute {
    fn new(name: &str, ty: AttributeType, description: &str) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            default: None,
            requires_replace: false,
            use_state_for_unknown: false,
            validators: Vec::new(),
        }
    }

    pub fn required(name: &str, ty: impl Into<AttributeType>, description: &str) -> Attribute {
        Attribute { required: true, ..Attribute::new(name, ty.into(), description) }
    }

    pub fn optional(name: &str, ty: impl Into<AttributeType>, description: &str) -> Attribute {
        Attribute { optional: true, ..Attribute::new(name, ty.into(), description) }
    }

    /// Optional, with a value the provider fills in when the configuration leaves it out.
    pub fn optional_computed(name: &str, ty: impl Into<AttributeType>, description: &str) -> Attribute {
        Attribute { optional: true, computed: true, ..Attribute::new(name, ty.into(), description) }
    }

    pub fn computed(name: &str, ty: impl Into<AttributeType>, description: &str) -> Attribute {
        Attribute { computed: true, ..Attribute::new(name, ty.into(), description) }
    }

    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>, description: &str) -> Attribute {
        Attribute { optional: true, ..Attribute::new(name, AttributeType::Nested(nesting, attributes), description) }
    }

    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    pub fn write_only(mut self) -> Attribute {
        self.write_only = true;
        self
    }

    pub fn with_default(mut self, value: Value) -> Attribute {
        self.default = Some(value);
        self
    }

    pub fn requires_replace(mut self) -> Attribute {
        self.requires_replace = true;
        self
    }

    pub fn use_state_for_unknown(mut self) -> Attribute {
        self.use_state_for_unknown = true;
        self
    }

    pub fn validate(
        mut self,
        summary: &'static str,
        check: impl Fn(&Value) -> Result<(), String> + Send + Sync + 'static,
    ) -> Attribute {
        self.validators.push(Validator { summary, check: Arc::new(check) });
        self
    }

    /// A string attribute's check, for the common case.
    pub fn validate_str(
        self,
        summary: &'static str,
        check: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Attribute {
        self.validate(summary, move |v| v.as_str().map_or(Ok(()), &check))
    }

    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Plain(t) => t.clone(),
            AttributeType::Nested(nesting, attrs) => {
                let object = Type::Object(attrs.iter().map(|a| (a.name.clone(), a.value_type())).collect());
                wrap(*nesting, object)
            }
        }
    }

    fn to_proto(&self) -> proto::schema::Attribute {
        let (ty, nested_type) = match &self.ty {
            AttributeType::Plain(t) => (t.to_json_bytes(), None),
            AttributeType::Nested(nesting, attrs) => (
                Vec::new(),
                Some(proto::schema::Object {
                    attributes: attrs.iter().map(Attribute::to_proto).collect(),
                    nesting: match nesting {
                        Nesting::Single => proto::schema::object::NestingMode::Single,
                        Nesting::List => proto::schema::object::NestingMode::List,
                        Nesting::Set => proto::schema::object::NestingMode::Set,
                        Nesting::Map => proto::schema::object::NestingMode::Map,
                    } as i32,
                }),
            ),
        };
        proto::schema::Attribute {
            name: self.name.clone(),
            r#type: ty,
            nested_type,
            description: self.description.clone(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: proto::StringKind::Markdown as i32,
            deprecated: false,
            write_only: self.write_only,
        }
    }
}

fn wrap(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single => object,
        Nesting::List => Type::list(object),
        Nesting::Set => Type::set(object),
        Nesting::Map => Type::map(object),
    }
}

impl Block {
    /// The names of the write-only attributes.
    pub fn write_only(&self) -> impl Iterator<Item = &str> {
        self.attributes.iter().filter(|a| a.write_only).map(|a| a.name.as_str())
    }

    pub fn value_type(&self) -> Type {
        Type::Object(self.attributes.iter().map(|a| (a.name.clone(), a.value_type())).collect())
    }

    fn to_proto(&self, version: i64) -> proto::schema::Block {
        proto::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: Vec::new(),
            description: self.description.clone(),
            description_kind: proto::StringKind::Markdown as i32,
            deprecated: false,
        }
    }
}

impl Schema {
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    pub(crate) fn to_proto(&self) -> proto::Schema {
        proto::Schema { version: self.version, block: Some(self.block.to_proto(self.version)) }
    }
}
