//! cty's JSON encoding, used by Terraform for stored state (`UpgradeResourceState`). It has no
//! unknowns; numbers keep their exact text, and dynamic values are `{"value":…,"type":…}`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{CodecError, Number, Type, Value};

const MAX_DEPTH: usize = 64;

pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let json: Json = serde_json::from_slice(bytes).map_err(|e| CodecError::new(&[], format!("invalid JSON: {e}")))?;
    let mut path = Vec::new();
    decode(&json, ty, &mut path)
}

fn decode(json: &Json, ty: &Type, path: &mut Vec<String>) -> Result<Value, CodecError> {
    if path.len() > MAX_DEPTH {
        return Err(CodecError::new(path, "value nested too deeply"));
    }
    if json.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = |path: &[String]| CodecError::new(path, format!("expected {}, found {json}", ty.to_json()));
    match ty {
        Type::String => json.as_str().map(Value::string).ok_or_else(|| mismatch(path)),
        Type::Bool => json.as_bool().map(Value::Bool).ok_or_else(|| mismatch(path)),
        Type::Number => {
            let text = match json {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s.clone(),
                _ => return Err(mismatch(path)),
            };
            Number::parse(&text).map(Value::Number).ok_or_else(|| mismatch(path))
        }
        Type::Dynamic => {
            let object = json.as_object().ok_or_else(|| mismatch(path))?;
            let (Some(value), Some(type_json)) = (object.get("value"), object.get("type")) else {
                return Err(CodecError::new(path, "a dynamic value must be {\"value\":…,\"type\":…}"));
            };
            let concrete = Type::from_json(type_json).map_err(|e| CodecError::new(path, e.message))?;
            decode(value, &concrete, path)
        }
        Type::List(elem) | Type::Set(elem) => {
            let items = json.as_array().ok_or_else(|| mismatch(path))?;
            let items = decode_items(items.iter().zip(std::iter::repeat(elem.as_ref())), path)?;
            Ok(if matches!(ty, Type::List(_)) { Value::List(items) } else { Value::Set(items) })
        }
        Type::Tuple(elems) => {
            let items = json.as_array().ok_or_else(|| mismatch(path))?;
            if items.len() != elems.len() {
                return Err(mismatch(path));
            }
            Ok(Value::Tuple(decode_items(items.iter().zip(elems.iter()), path)?))
        }
        Type::Map(elem) => {
            let object = json.as_object().ok_or_else(|| mismatch(path))?;
            let mut map = BTreeMap::new();
            for (key, item) in object {
                path.push(format!("[{key:?}]"));
                map.insert(key.clone(), decode(item, elem, path)?);
                path.pop();
            }
            Ok(Value::Map(map))
        }
        Type::Object(attrs) => {
            let object = json.as_object().ok_or_else(|| mismatch(path))?;
            let mut out = BTreeMap::new();
            for (key, item) in object {
                let Some(attr_ty) = attrs.get(key) else {
                    return Err(CodecError::new(path, format!("unsupported attribute {key:?}")));
                };
                path.push(format!(".{key}"));
                out.insert(key.clone(), decode(item, attr_ty, path)?);
                path.pop();
            }
            for name in attrs.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
    }
}

fn decode_items<'a>(
    items: impl Iterator<Item = (&'a Json, &'a Type)>,
    path: &mut Vec<String>,
) -> Result<Vec<Value>, CodecError> {
    items
        .enumerate()
        .map(|(i, (item, ty))| {
            path.push(format!("[{i}]"));
            let value = decode(item, ty, path);
            path.pop();
            value
        })
        .collect()
}
