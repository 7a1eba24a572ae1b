//! Durations as Terraform users write them: `90s`, `5m`, `1h30m`. Capped, so that no timeout
//! can overflow the clock arithmetic done with it.

use std::time::Duration;

/// Longer than any operation this provider waits for; a larger value is a mistake.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as \"30s\", \"5m\" or \"1h30m\"");
    let too_long = || format!("{text:?} is longer than the longest timeout accepted, 24h");
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = match digits.parse() {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => return Err(too_long()),
            Err(_) => return Err(bad()),
        };
        digits.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let part = n.checked_mul(unit).map(Duration::from_secs).ok_or_else(too_long)?;
        total = total.checked_add(part).filter(|t| *t <= MAX).ok_or_else(too_long)?;
        any = true;
    }
    if !digits.is_empty() || !any || total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_terraform_style_durations() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("24h"), Ok(MAX));
        for bad in ["", "5", "5x", "m", "0s", "-1m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Both used to get through: the first overflowed `Instant::now() + t` later (a panic in the
    /// provider), the second overflowed inside this parser.
    #[test]
    fn absurd_durations_are_refused_not_overflowed() {
        for absurd in ["18446744073709551615s", "18446744073709551615s1s", "99999999999999999999h", "24h1s", "25h"] {
            let refused = parse(absurd).expect_err(absurd);
            assert!(refused.contains("24h"), "{absurd}: {refused}");
        }
    }

    proptest! {
        #[test]
        fn no_text_panics_or_passes_the_cap(text in "[0-9hms ]{0,40}") {
            if let Ok(d) = parse(&text) {
                prop_assert!(d > Duration::ZERO && d <= MAX);
            }
        }
    }
}
