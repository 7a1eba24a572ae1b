//! Durations as Terraform users write them (`90s`, `5m`, `1h30m`), read by `humantime`.
//! Capped, so that no timeout can overflow the clock arithmetic done with it.

use std::time::Duration;

/// Longer than any operation this provider waits for; a larger value is a mistake.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as \"30s\", \"5m\" or \"1h30m\"");
    let too_long = || format!("{text:?} is longer than the longest timeout accepted, 24h");
    match humantime::parse_duration(text.trim()) {
        // A timeout under a second would fail every operation: a slip, such as `500ms` for `500s`.
        Ok(d) if d < Duration::from_secs(1) => Err(format!("{text:?} is shorter than a second, the shortest timeout")),
        Ok(d) if d > MAX => Err(too_long()),
        Ok(d) => Ok(d),
        Err(humantime::DurationError::NumberOverflow) => Err(too_long()),
        Err(_) => Err(bad()),
    }
}

/// A duration as the parser reads it back: `10m`, `1h 30m`.
pub fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
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
        for bad in ["", "5", "5x", "m", "0s", "-1m", "500ms"] {
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
