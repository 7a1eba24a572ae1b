//! Checks that attributes of several resources declare: each gives the text of the error, and
//! the framework adds the summary and the attribute's path.

use std::ops::RangeInclusive;

use crate::resources::duration;
use crate::tfplugin::value::Value;

/// A whole number within `range`; `name` is the attribute, as the message quotes it.
pub fn whole_number(name: &'static str, range: RangeInclusive<i64>) -> impl Fn(&Value) -> Result<(), String> {
    move |value| match value.as_i64() {
        Some(n) if range.contains(&n) => Ok(()),
        _ => Err(format!(
            "{name} must be a whole number {}, not {}.",
            // A bound that is the type's own is no limit a user sets: named only in passing.
            if *range.end() >= i64::from(i16::MAX) {
                format!("of at least {} (at most {})", range.start(), range.end())
            } else {
                format!("from {} to {}", range.start(), range.end())
            },
            match value {
                Value::Number(n) => n.to_string(),
                other => format!("{other:?}"),
            }
        )),
    }
}

/// A timeout such as `5m`, within the cap every timeout has.
pub fn timeout(text: &str) -> Result<(), String> {
    duration::parse(text).map(drop)
}

/// One of a fixed list of words.
pub fn one_of(words: &'static [&'static str]) -> impl Fn(&str) -> Result<(), String> {
    move |word| {
        if words.contains(&word) { Ok(()) } else { Err(format!("{word:?} is not one of {}.", words.join(", "))) }
    }
}

/// A map of strings without null values: Terraform allows one, but an entry without a value
/// has no meaning here, so it is refused rather than quietly dropped.
pub fn no_null_values(value: &Value) -> Result<(), String> {
    match value {
        Value::Map(entries) => match entries.iter().find(|(_, v)| v.is_null()) {
            Some((key, _)) => Err(format!("{key:?} has no value: give it one, or remove it.")),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}
