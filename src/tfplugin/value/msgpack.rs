//! cty's msgpack encoding, driven by the type: unknown is extension 0 (or extension 12 carrying
//! refinements), numbers that fit neither i64 nor f64 travel as decimal strings, and values of
//! dynamic type travel as `[type JSON, value]`.

use std::collections::BTreeMap;

use rmp::Marker;
use rmp::decode::{Bytes, RmpRead};

use super::{CodecError, Number, Refinements, Type, Value};

/// Nesting deeper than this is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 64;
const EXT_UNKNOWN: i8 = 0;
const EXT_REFINED_UNKNOWN: i8 = 0x0c;
const REFINE_NULL: i64 = 1;
const REFINE_PREFIX: i64 = 2;
const REFINE_NUMBER_MIN: i64 = 3;
const REFINE_NUMBER_MAX: i64 = 4;
const REFINE_LENGTH_MIN: i64 = 5;
const REFINE_LENGTH_MAX: i64 = 6;

pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut decoder = Decoder { rd: Bytes::new(bytes), path: Vec::new() };
    let value = decoder.value(ty)?;
    if !decoder.rd.remaining_slice().is_empty() {
        return Err(decoder.error("trailing bytes after the value"));
    }
    Ok(value)
}

pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut encoder = Encoder { out: Vec::with_capacity(64), path: Vec::new() };
    encoder.value(value, ty)?;
    Ok(encoder.out)
}

struct Decoder<'a> {
    rd: Bytes<'a>,
    path: Vec<String>,
}

impl Decoder<'_> {
    fn error(&self, message: impl Into<String>) -> CodecError {
        CodecError::new(&self.path, message)
    }

    fn peek(&self) -> Result<Marker, CodecError> {
        self.rd
            .remaining_slice()
            .first()
            .map(|b| Marker::from_u8(*b))
            .ok_or_else(|| self.error("unexpected end of input"))
    }

    fn marker(&mut self) -> Result<Marker, CodecError> {
        let marker = self.peek()?;
        self.rd.read_u8().map_err(|_| self.error("unexpected end of input"))?;
        Ok(marker)
    }

    fn take(&mut self, len: usize) -> Result<&[u8], CodecError> {
        let rest = self.rd.remaining_slice();
        if rest.len() < len {
            return Err(self.error("unexpected end of input"));
        }
        let (head, _) = rest.split_at(len);
        self.rd = Bytes::new(&rest[len..]);
        Ok(head)
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let bytes = self.take(N)?;
        let mut buf = [0u8; N];
        buf.copy_from_slice(bytes);
        Ok(buf)
    }

    fn len_for(&mut self, marker: Marker) -> Result<Option<usize>, CodecError> {
        Ok(Some(match marker {
            Marker::FixArray(n) | Marker::FixMap(n) | Marker::FixStr(n) => n as usize,
            Marker::Array16 | Marker::Map16 | Marker::Str16 | Marker::Bin16 => u16::from_be_bytes(self.be()?) as usize,
            Marker::Array32 | Marker::Map32 | Marker::Str32 | Marker::Bin32 => u32::from_be_bytes(self.be()?) as usize,
            Marker::Str8 | Marker::Bin8 => self.be::<1>()?[0] as usize,
            _ => return Ok(None),
        }))
    }

    /// Element counts are bounded by what is left of the input (each element takes a byte at
    /// least), so a forged length cannot make the decoder allocate gigabytes.
    fn checked_count(&self, n: usize) -> Result<usize, CodecError> {
        if n > self.rd.remaining_slice().len() {
            return Err(self.error(format!("collection claims {n} elements but the input is shorter")));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let marker = self.marker()?;
        if !matches!(
            marker,
            Marker::FixStr(_)
                | Marker::Str8
                | Marker::Str16
                | Marker::Str32
                | Marker::Bin8
                | Marker::Bin16
                | Marker::Bin32
        ) {
            return Err(self.error(format!("expected a string, found {marker:?}")));
        }
        let len = self.len_for(marker)?.unwrap_or(0);
        let bytes = self.take(len)?.to_vec();
        String::from_utf8(bytes).map_err(|_| self.error("string is not valid UTF-8"))
    }

    fn array_len(&mut self, what: &str) -> Result<usize, CodecError> {
        let marker = self.marker()?;
        match marker {
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let n = self.len_for(marker)?.unwrap_or(0);
                self.checked_count(n)
            }
            _ => Err(self.error(format!("expected {what} (an array), found {marker:?}"))),
        }
    }

    fn map_len(&mut self, what: &str) -> Result<usize, CodecError> {
        let marker = self.marker()?;
        match marker {
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                let n = self.len_for(marker)?.unwrap_or(0);
                self.checked_count(n)
            }
            _ => Err(self.error(format!("expected {what} (a map), found {marker:?}"))),
        }
    }

    fn int(&mut self) -> Result<i64, CodecError> {
        match self.number()? {
            Number::Int(i) => Ok(i),
            other => Err(self.error(format!("expected an integer, found {other}"))),
        }
    }

    fn number(&mut self) -> Result<Number, CodecError> {
        let marker = self.peek()?;
        let number = match marker {
            Marker::FixPos(n) => {
                self.marker()?;
                Number::Int(n as i64)
            }
            Marker::FixNeg(n) => {
                self.marker()?;
                Number::Int(n as i64)
            }
            Marker::U8 => {
                self.marker()?;
                Number::Int(self.be::<1>()?[0] as i64)
            }
            Marker::U16 => {
                self.marker()?;
                Number::Int(u16::from_be_bytes(self.be()?) as i64)
            }
            Marker::U32 => {
                self.marker()?;
                Number::Int(u32::from_be_bytes(self.be()?) as i64)
            }
            Marker::U64 => {
                self.marker()?;
                Number::from_u64(u64::from_be_bytes(self.be()?))
            }
            Marker::I8 => {
                self.marker()?;
                Number::Int(i8::from_be_bytes(self.be()?) as i64)
            }
            Marker::I16 => {
                self.marker()?;
                Number::Int(i16::from_be_bytes(self.be()?) as i64)
            }
            Marker::I32 => {
                self.marker()?;
                Number::Int(i32::from_be_bytes(self.be()?) as i64)
            }
            Marker::I64 => {
                self.marker()?;
                Number::Int(i64::from_be_bytes(self.be()?))
            }
            Marker::F32 => {
                self.marker()?;
                {
                    let f = f32::from_be_bytes(self.be()?) as f64;
                    self.float(f)?
                }
            }
            Marker::F64 => {
                self.marker()?;
                {
                    let f = f64::from_be_bytes(self.be()?);
                    self.float(f)?
                }
            }
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let text = self.string()?;
                Number::parse(&text).ok_or_else(|| self.error(format!("{text:?} is not a number")))?
            }
            other => return Err(self.error(format!("expected a number, found {other:?}"))),
        };
        Ok(number)
    }

    fn float(&self, f: f64) -> Result<Number, CodecError> {
        if f.is_nan() {
            return Err(self.error("NaN is not a Terraform number"));
        }
        Ok(Number::from_f64(f))
    }

    fn unknown(&mut self, ty: &Type) -> Result<Value, CodecError> {
        let marker = self.marker()?;
        let len = match marker {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => self.be::<1>()?[0] as usize,
            Marker::Ext16 => u16::from_be_bytes(self.be()?) as usize,
            Marker::Ext32 => u32::from_be_bytes(self.be()?) as usize,
            _ => unreachable!("unknown() is called only on extension markers"),
        };
        let code = i8::from_be_bytes(self.be()?);
        let body = self.take(len)?.to_vec();
        if len <= 1 {
            return Ok(Value::unknown());
        }
        if code != EXT_REFINED_UNKNOWN {
            return Err(self.error(format!("unsupported extension type {code} of {len} bytes")));
        }
        if len > 1024 {
            return Err(self.error("unknown value's refinements exceed 1 KiB"));
        }
        let mut inner = Decoder { rd: Bytes::new(&body), path: self.path.clone() };
        let refinements = inner.refinements(ty)?;
        Ok(Value::Unknown(if matches!(ty, Type::Dynamic) { Refinements::default() } else { refinements }))
    }

    fn refinements(&mut self, ty: &Type) -> Result<Refinements, CodecError> {
        let mut r = Refinements::default();
        let entries = self.map_len("a refinement map")?;
        for _ in 0..entries {
            match self.int()? {
                REFINE_NULL => {
                    let marker = self.marker()?;
                    r.null = Some(match marker {
                        Marker::True => true,
                        Marker::False => false,
                        _ => return Err(self.error("null refinement is not a boolean")),
                    });
                }
                REFINE_PREFIX if *ty == Type::String => r.string_prefix = Some(self.string()?),
                key @ (REFINE_NUMBER_MIN | REFINE_NUMBER_MAX) if *ty == Type::Number => {
                    if self.array_len("a number bound")? != 2 {
                        return Err(self.error("number bound must be [number, bool]"));
                    }
                    let bound = self.number()?;
                    let inclusive = match self.marker()? {
                        Marker::True => true,
                        Marker::False => false,
                        _ => return Err(self.error("number bound must be [number, bool]")),
                    };
                    if key == REFINE_NUMBER_MIN {
                        r.number_min = Some((bound, inclusive));
                    } else {
                        r.number_max = Some((bound, inclusive));
                    }
                }
                key @ (REFINE_LENGTH_MIN | REFINE_LENGTH_MAX)
                    if matches!(ty, Type::List(_) | Type::Set(_) | Type::Map(_)) =>
                {
                    let bound = self.int()?;
                    if key == REFINE_LENGTH_MIN {
                        r.length_min = Some(bound);
                    } else {
                        r.length_max = Some(bound);
                    }
                }
                key @ (REFINE_PREFIX | REFINE_NUMBER_MIN | REFINE_NUMBER_MAX | REFINE_LENGTH_MIN
                | REFINE_LENGTH_MAX) => {
                    return Err(self.error(format!("refinement {key} does not apply to this type")));
                }
                // Refinements added by later Terraform versions are safe to ignore: they only
                // narrow what the unknown value may become.
                _ => self.skip(0)?,
            }
        }
        Ok(r)
    }

    /// Skips one msgpack item of any kind.
    fn skip(&mut self, depth: usize) -> Result<(), CodecError> {
        if depth > MAX_DEPTH {
            return Err(self.error("value nested too deeply"));
        }
        let marker = self.marker()?;
        let fixed = match marker {
            Marker::Null | Marker::True | Marker::False | Marker::FixPos(_) | Marker::FixNeg(_) => 0,
            Marker::U8 | Marker::I8 => 1,
            Marker::U16 | Marker::I16 => 2,
            Marker::U32 | Marker::I32 | Marker::F32 => 4,
            Marker::U64 | Marker::I64 | Marker::F64 => 8,
            Marker::FixExt1 => 2,
            Marker::FixExt2 => 3,
            Marker::FixExt4 => 5,
            Marker::FixExt8 => 9,
            Marker::FixExt16 => 17,
            Marker::Ext8 => self.be::<1>()?[0] as usize + 1,
            Marker::Ext16 => u16::from_be_bytes(self.be()?) as usize + 1,
            Marker::Ext32 => u32::from_be_bytes(self.be()?) as usize + 1,
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let n = self.len_for(marker)?.unwrap_or(0);
                for _ in 0..self.checked_count(n)? {
                    self.skip(depth + 1)?;
                }
                0
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                let n = self.len_for(marker)?.unwrap_or(0);
                for _ in 0..self.checked_count(n)? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
                0
            }
            Marker::Reserved => return Err(self.error("reserved msgpack marker")),
            other => self.len_for(other)?.unwrap_or(0),
        };
        self.take(fixed)?;
        Ok(())
    }

    fn value(&mut self, ty: &Type) -> Result<Value, CodecError> {
        if self.path.len() > MAX_DEPTH {
            return Err(self.error("value nested too deeply"));
        }
        match self.peek()? {
            Marker::Null => {
                self.marker()?;
                return Ok(Value::Null);
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => {
                return self.unknown(ty);
            }
            _ => {}
        }
        match ty {
            Type::Dynamic => {
                if self.array_len("a dynamic value")? != 2 {
                    return Err(self.error("a dynamic value must be [type, value]"));
                }
                let type_json = self.string()?;
                let concrete = Type::from_json_bytes(type_json.as_bytes()).map_err(|e| self.error(e.message))?;
                if concrete == Type::Dynamic {
                    return Err(self.error("a dynamic value's type must be concrete"));
                }
                self.value(&concrete)
            }
            Type::String => Ok(Value::String(self.string()?)),
            Type::Number => Ok(Value::Number(self.number()?)),
            Type::Bool => match self.marker()? {
                Marker::True => Ok(Value::Bool(true)),
                Marker::False => Ok(Value::Bool(false)),
                other => Err(self.error(format!("expected a bool, found {other:?}"))),
            },
            Type::List(elem) | Type::Set(elem) => {
                let n = self.array_len("a collection")?;
                let mut items = Vec::with_capacity(n);
                for i in 0..n {
                    self.path.push(format!("[{i}]"));
                    items.push(self.value(elem)?);
                    self.path.pop();
                }
                Ok(if matches!(ty, Type::List(_)) { Value::List(items) } else { Value::Set(items) })
            }
            Type::Tuple(elems) => {
                let n = self.array_len("a tuple")?;
                if n != elems.len() {
                    return Err(self.error(format!("tuple has {n} elements, its type {}", elems.len())));
                }
                let mut items = Vec::with_capacity(n);
                for (i, elem) in elems.iter().enumerate() {
                    self.path.push(format!("[{i}]"));
                    items.push(self.value(elem)?);
                    self.path.pop();
                }
                Ok(Value::Tuple(items))
            }
            Type::Map(elem) => {
                let n = self.map_len("a map")?;
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let key = self.string()?;
                    self.path.push(format!("[{key:?}]"));
                    let value = self.value(elem)?;
                    self.path.pop();
                    map.insert(key, value);
                }
                Ok(Value::Map(map))
            }
            Type::Object(attrs) => {
                let n = self.map_len("an object")?;
                let mut object = BTreeMap::new();
                for _ in 0..n {
                    let key = self.string()?;
                    let Some(attr_ty) = attrs.get(&key) else {
                        return Err(self.error(format!("unsupported attribute {key:?}")));
                    };
                    self.path.push(format!(".{key}"));
                    let value = self.value(attr_ty)?;
                    self.path.pop();
                    object.insert(key, value);
                }
                for name in attrs.keys() {
                    object.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(object))
            }
        }
    }
}

struct Encoder {
    out: Vec<u8>,
    path: Vec<String>,
}

impl Encoder {
    fn error(&self, message: impl Into<String>) -> CodecError {
        CodecError::new(&self.path, message)
    }

    fn str(&mut self, s: &str) {
        // Writing to a Vec cannot fail.
        let _ = rmp::encode::write_str(&mut self.out, s);
    }

    fn int(&mut self, i: i64) {
        let _ = rmp::encode::write_sint(&mut self.out, i);
    }

    fn number(&mut self, n: &Number) {
        match n {
            Number::Int(i) => self.int(*i),
            Number::Float(f) => {
                let _ = rmp::encode::write_f64(&mut self.out, *f);
            }
            Number::Decimal(d) => self.str(d),
        }
    }

    fn unknown(&mut self, r: &Refinements, ty: &Type) {
        if r.is_empty() || *ty == Type::Dynamic {
            self.out.extend_from_slice(&[0xd4, EXT_UNKNOWN as u8, 0]);
            return;
        }
        let mut body = Encoder { out: Vec::new(), path: Vec::new() };
        let entries = [
            r.null.is_some(),
            r.string_prefix.is_some(),
            r.number_min.is_some(),
            r.number_max.is_some(),
            r.length_min.is_some(),
            r.length_max.is_some(),
        ];
        let _ = rmp::encode::write_map_len(&mut body.out, entries.iter().filter(|e| **e).count() as u32);
        if let Some(null) = r.null {
            body.int(REFINE_NULL);
            let _ = rmp::encode::write_bool(&mut body.out, null);
        }
        if let Some(prefix) = &r.string_prefix {
            body.int(REFINE_PREFIX);
            body.str(prefix);
        }
        for (key, bound) in [(REFINE_NUMBER_MIN, &r.number_min), (REFINE_NUMBER_MAX, &r.number_max)] {
            if let Some((n, inclusive)) = bound {
                body.int(key);
                let _ = rmp::encode::write_array_len(&mut body.out, 2);
                body.number(n);
                let _ = rmp::encode::write_bool(&mut body.out, *inclusive);
            }
        }
        for (key, bound) in [(REFINE_LENGTH_MIN, r.length_min), (REFINE_LENGTH_MAX, r.length_max)] {
            if let Some(n) = bound {
                body.int(key);
                body.int(n);
            }
        }
        let _ = rmp::encode::write_ext_meta(&mut self.out, body.out.len() as u32, EXT_REFINED_UNKNOWN);
        self.out.extend_from_slice(&body.out);
    }

    fn value(&mut self, value: &Value, ty: &Type) -> Result<(), CodecError> {
        match (value, ty) {
            (Value::Null, _) => {
                let _ = rmp::encode::write_nil(&mut self.out);
            }
            (Value::Unknown(r), _) => self.unknown(r, ty),
            (_, Type::Dynamic) => {
                let concrete = implied_type(value);
                let _ = rmp::encode::write_array_len(&mut self.out, 2);
                let type_json = concrete.to_json_bytes();
                let _ = rmp::encode::write_bin(&mut self.out, &type_json);
                self.value(value, &concrete)?;
            }
            (Value::String(s), Type::String) => self.str(s),
            (Value::Number(n), Type::Number) => self.number(n),
            (Value::Bool(b), Type::Bool) => {
                let _ = rmp::encode::write_bool(&mut self.out, *b);
            }
            (Value::List(items), Type::List(elem)) | (Value::Set(items), Type::Set(elem)) => {
                let _ = rmp::encode::write_array_len(&mut self.out, items.len() as u32);
                for (i, item) in items.iter().enumerate() {
                    self.path.push(format!("[{i}]"));
                    self.value(item, elem)?;
                    self.path.pop();
                }
            }
            (Value::Tuple(items), Type::Tuple(elems)) if items.len() == elems.len() => {
                let _ = rmp::encode::write_array_len(&mut self.out, items.len() as u32);
                for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                    self.path.push(format!("[{i}]"));
                    self.value(item, elem)?;
                    self.path.pop();
                }
            }
            (Value::Map(map), Type::Map(elem)) | (Value::Object(map), Type::Map(elem)) => {
                let _ = rmp::encode::write_map_len(&mut self.out, map.len() as u32);
                for (key, item) in map {
                    self.str(key);
                    self.path.push(format!("[{key:?}]"));
                    self.value(item, elem)?;
                    self.path.pop();
                }
            }
            (Value::Object(object), Type::Object(attrs)) => {
                if let Some(extra) = object.keys().find(|k| !attrs.contains_key(*k)) {
                    return Err(self.error(format!("attribute {extra:?} is not in the type")));
                }
                let _ = rmp::encode::write_map_len(&mut self.out, attrs.len() as u32);
                for (name, attr_ty) in attrs {
                    self.str(name);
                    self.path.push(format!(".{name}"));
                    self.value(object.get(name).unwrap_or(&Value::Null), attr_ty)?;
                    self.path.pop();
                }
            }
            (value, ty) => {
                return Err(self.error(format!("value {value:?} does not conform to type {}", ty.to_json())));
            }
        }
        Ok(())
    }
}

/// The concrete type a value of dynamic type is sent with. Collections whose elements differ
/// in type get `dynamic` elements, each of which then carries its own type.
fn implied_type(value: &Value) -> Type {
    fn common<'a>(items: impl Iterator<Item = &'a Value>) -> Type {
        let mut types = items.map(implied_type);
        let Some(first) = types.next() else { return Type::Dynamic };
        if types.all(|t| t == first) { first } else { Type::Dynamic }
    }
    match value {
        Value::Null | Value::Unknown(_) => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::list(common(items.iter())),
        Value::Set(items) => Type::set(common(items.iter())),
        Value::Tuple(items) => Type::Tuple(items.iter().map(implied_type).collect()),
        Value::Map(map) => Type::map(common(map.values())),
        Value::Object(object) => Type::Object(object.iter().map(|(k, v)| (k.clone(), implied_type(v))).collect()),
    }
}
