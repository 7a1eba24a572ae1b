//! Terraform numbers are arbitrary-precision decimals. On the wire they arrive as msgpack
//! integers, floats, or decimal strings when neither holds them exactly; all three are kept
//! as they came, so nothing is rounded on the way back.

use std::fmt;

#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    /// An IEEE double that represents the number exactly (or ±infinity).
    Float(f64),
    /// A decimal beyond i64 and f64, e.g. `18446744073709551616` or `0.1`.
    Decimal(String),
}

impl Number {
    /// Parses a decimal as cty writes it: optional sign, digits, optional fraction, optional
    /// exponent. Integers that fit become `Int`; everything else stays exact as `Decimal`.
    pub fn parse(text: &str) -> Option<Number> {
        let text = text.trim();
        if !is_decimal(text) {
            return None;
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::Int(i));
        }
        let canonical = canonical_decimal(text)?;
        match canonical.parse::<i64>() {
            Ok(i) => Some(Number::Int(i)),
            Err(_) => Some(Number::Decimal(canonical)),
        }
    }

    pub fn from_u64(u: u64) -> Number {
        i64::try_from(u).map_or_else(|_| Number::Decimal(u.to_string()), Number::Int)
    }

    pub fn from_f64(f: f64) -> Number {
        if f.fract() == 0.0 && f.abs() < 9.2e18 { Number::Int(f as i64) } else { Number::Float(f) }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
            _ => None,
        }
    }

    /// The exact decimal text, the form in which two numbers compare.
    pub fn to_decimal(&self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) if f.is_infinite() => {
                if *f > 0.0 {
                    "+Inf".into()
                } else {
                    "-Inf".into()
                }
            }
            Number::Float(f) => canonical_decimal(&format!("{f}")).unwrap_or_else(|| f.to_string()),
            Number::Decimal(d) => canonical_decimal(d).unwrap_or_else(|| d.clone()),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            _ => self.to_decimal() == other.to_decimal(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

fn is_decimal(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && frac.is_none_or(digits) && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.len() <= 6 && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// Plain decimal notation without redundant zeros: `-0012.500e1` becomes `-125`.
fn canonical_decimal(text: &str) -> Option<String> {
    if !is_decimal(text) {
        return None;
    }
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int}{frac}");
    let mut point = int.len() as i64 + exponent;
    // Keep the digit string bounded: an exponent of a million zeros is no number anyone means.
    if !(-4096..=4096).contains(&point) {
        return None;
    }
    if point < 0 {
        digits = "0".repeat((-point) as usize) + &digits;
        point = 0;
    }
    if point as usize > digits.len() {
        digits += &"0".repeat(point as usize - digits.len());
    }
    let (int, frac) = digits.split_at(point as usize);
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let magnitude = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    Some(if negative && magnitude != "0" { format!("-{magnitude}") } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_that_fit_become_int() {
        assert_eq!(Number::parse("42"), Some(Number::Int(42)));
        assert!(matches!(Number::parse("4.2e1"), Some(Number::Int(42))));
    }

    #[test]
    fn big_and_fractional_numbers_stay_exact() {
        let big = Number::parse("18446744073709551616").unwrap();
        assert_eq!(big.to_decimal(), "18446744073709551616");
        assert_eq!(Number::parse("0.1").unwrap().to_decimal(), "0.1");
        assert_eq!(Number::parse("-0012.500e1").unwrap(), Number::Int(-125));
    }

    #[test]
    fn equal_values_in_different_forms_compare_equal() {
        assert_eq!(Number::Float(0.5), Number::Decimal("0.50".into()));
        assert_eq!(Number::Int(3), Number::Decimal("3.0".into()));
        assert_ne!(Number::Int(3), Number::Decimal("3.1".into()));
    }

    #[test]
    fn malformed_text_is_no_number() {
        for text in ["", "-", "1.2.3", "1e", "e5", "0x10", "1e9999999", "NaN"] {
            assert_eq!(Number::parse(text), None, "{text}");
        }
    }
}
