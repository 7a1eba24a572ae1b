//! What Kafka 3.9 accepts as topic configuration: the keys, their types and ranges, and how the
//! broker normalises values, so that a value the user wrote and the broker's rendering of it
//! compare equal and never show as a perpetual diff.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
    Unknown,
}

impl ConfigKind {
    /// The `config_type` of a DescribeConfigs response.
    pub fn from_wire(code: i8) -> ConfigKind {
        match code {
            1 => ConfigKind::Boolean,
            2 => ConfigKind::String,
            3 => ConfigKind::Int,
            4 => ConfigKind::Short,
            5 => ConfigKind::Long,
            6 => ConfigKind::Double,
            7 => ConfigKind::List,
            8 => ConfigKind::Class,
            9 => ConfigKind::Password,
            _ => ConfigKind::Unknown,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// An override set on the topic itself: the only kind the provider writes.
    TopicOverride,
    DynamicBroker,
    DynamicDefaultBroker,
    StaticBroker,
    Default,
    Other,
}

impl ConfigSource {
    pub fn from_wire(code: i8) -> ConfigSource {
        match code {
            1 => ConfigSource::TopicOverride,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            _ => ConfigSource::Other,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub kind: ConfigKind,
    pub sensitive: bool,
}

/// The overrides set on a topic, as a configuration would hold them: not the broker's defaults,
/// no sensitive value, and not the throttled replicas of a partition move under way, which
/// belong to the move.
pub fn overrides(entries: Vec<ConfigEntry>) -> std::collections::BTreeMap<String, String> {
    entries.into_iter().filter(|c| c.is_setting()).filter_map(|c| c.value.map(|v| (c.name, v))).collect()
}

impl ConfigEntry {
    /// Whether this entry is one of the topic's own settings, as a configuration holds them.
    pub fn is_setting(&self) -> bool {
        self.source == ConfigSource::TopicOverride
            && !self.sensitive
            && !super::THROTTLED_REPLICAS.contains(&self.name.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigOp {
    Set(String, String),
    /// Removes the topic's override, so the broker default applies again.
    Delete(String),
}

#[derive(Clone, Copy, Debug)]
enum Check {
    Any,
    AtLeast(i64),
    Range(i64, i64),
    OneOf(&'static [&'static str]),
    ListOf(&'static [&'static str]),
    Fraction,
}

struct Spec {
    name: &'static str,
    kind: ConfigKind,
    check: Check,
}

const fn spec(name: &'static str, kind: ConfigKind, check: Check) -> Spec {
    Spec { name, kind, check }
}

use Check::*;
use ConfigKind::{Boolean, Double, Int, List, Long};

/// Kafka 3.9's topic-level configuration keys.
const TOPIC_CONFIGS: &[Spec] = &[
    spec("cleanup.policy", List, ListOf(&["compact", "delete"])),
    spec("compression.gzip.level", Int, Range(-1, 9)),
    spec("compression.lz4.level", Int, Range(1, 17)),
    spec("compression.type", ConfigKind::String, OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"])),
    spec("compression.zstd.level", Int, Range(-131072, 22)),
    spec("delete.retention.ms", Long, AtLeast(0)),
    spec("file.delete.delay.ms", Long, AtLeast(0)),
    spec("flush.messages", Long, AtLeast(1)),
    spec("flush.ms", Long, AtLeast(0)),
    spec("index.interval.bytes", Int, AtLeast(0)),
    spec("local.retention.bytes", Long, AtLeast(-2)),
    spec("local.retention.ms", Long, AtLeast(-2)),
    spec("max.compaction.lag.ms", Long, AtLeast(1)),
    spec("max.message.bytes", Int, AtLeast(0)),
    spec("message.downconversion.enable", Boolean, Any),
    spec("message.format.version", ConfigKind::String, Any),
    spec("message.timestamp.after.max.ms", Long, AtLeast(0)),
    spec("message.timestamp.before.max.ms", Long, AtLeast(0)),
    spec("message.timestamp.difference.max.ms", Long, AtLeast(0)),
    spec("message.timestamp.type", ConfigKind::String, OneOf(&["CreateTime", "LogAppendTime"])),
    spec("min.cleanable.dirty.ratio", Double, Fraction),
    spec("min.compaction.lag.ms", Long, AtLeast(0)),
    spec("min.insync.replicas", Int, AtLeast(1)),
    spec("preallocate", Boolean, Any),
    spec("remote.log.copy.disable", Boolean, Any),
    spec("remote.log.delete.on.disable", Boolean, Any),
    spec("remote.storage.enable", Boolean, Any),
    spec("retention.bytes", Long, Any),
    spec("retention.ms", Long, AtLeast(-1)),
    spec("segment.bytes", Int, AtLeast(14)),
    spec("segment.index.bytes", Int, AtLeast(4)),
    spec("segment.jitter.ms", Long, AtLeast(0)),
    spec("segment.ms", Long, AtLeast(1)),
    spec("unclean.leader.election.enable", Boolean, Any),
];

pub fn known_keys() -> impl Iterator<Item = &'static str> {
    TOPIC_CONFIGS.iter().map(|s| s.name)
}

pub fn kind_of(name: &str) -> Option<ConfigKind> {
    TOPIC_CONFIGS.iter().find(|s| s.name == name).map(|s| s.kind)
}

/// Checks one key and value as the broker would; the error says what is expected.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    if super::THROTTLED_REPLICAS.contains(&name) {
        return Err(format!(
            "{name} is set by a partition move while it runs, and removed after it; a topic's own settings do \
             not include it."
        ));
    }
    let Some(spec) = TOPIC_CONFIGS.iter().find(|s| s.name == name) else {
        let hint = closest_key(name).map(|k| format!(" Did you mean {k:?}?")).unwrap_or_default();
        return Err(format!("{name:?} is not a topic configuration key of Kafka 3.9.{hint}"));
    };
    let integer = |min: i64, max: i64| -> Result<i64, String> {
        let n: i64 = value.trim().parse().map_err(|_| format!("{name} must be an integer, not {value:?}"))?;
        if n < min || n > max {
            return Err(format!("{name} must be between {min} and {max}, not {n}"));
        }
        Ok(n)
    };
    match spec.kind {
        Boolean if !matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false") => {
            return Err(format!("{name} must be true or false, not {value:?}"));
        }
        Int => {
            integer(i32::MIN.into(), i32::MAX.into())?;
        }
        Long => {
            integer(i64::MIN, i64::MAX)?;
        }
        Double => {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("{name} must be a number, not {value:?}"))?;
        }
        _ => {}
    }
    match spec.check {
        Any => Ok(()),
        AtLeast(min) => integer(min, i64::MAX).map(drop),
        Range(min, max) => integer(min, max).map(drop),
        Fraction => match value.trim().parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => Ok(()),
            _ => Err(format!("{name} must be between 0 and 1, not {value:?}")),
        },
        OneOf(allowed) if allowed.contains(&value) => Ok(()),
        OneOf(allowed) => Err(format!("{name} must be one of {}, not {value:?}", allowed.join(", "))),
        ListOf(allowed) => {
            let items: Vec<&str> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            match items.iter().find(|i| !allowed.contains(i)) {
                _ if items.is_empty() => Err(format!("{name} must list at least one of {}", allowed.join(", "))),
                Some(bad) => Err(format!("{name} takes {}, not {bad:?}", allowed.join(", "))),
                None => Ok(()),
            }
        }
    }
}

/// The form in which the broker renders a value of this kind: `True` is `true`, ` compact ,
/// delete` is `compact,delete`, `0010` is `10`.
pub fn normalize(kind: ConfigKind, value: &str) -> String {
    let trimmed = value.trim();
    match kind {
        Boolean => trimmed.to_ascii_lowercase(),
        Int | ConfigKind::Short | Long => {
            trimmed.parse::<i64>().map_or_else(|_| trimmed.to_string(), |n| n.to_string())
        }
        Double => trimmed.parse::<f64>().map_or_else(|_| trimmed.to_string(), |f| f.to_string()),
        List => trimmed.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(","),
        _ => value.to_string(),
    }
}

/// Two renderings of a value are the same setting.
pub fn same_value(kind: ConfigKind, a: &str, b: &str) -> bool {
    normalize(kind, a) == normalize(kind, b)
}

fn closest_key(name: &str) -> Option<&'static str> {
    known_keys().map(|k| (edit_distance(name, k), k)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_kafka_accepts() {
        for (k, v) in [
            ("cleanup.policy", "compact,delete"),
            ("retention.ms", "-1"),
            ("min.cleanable.dirty.ratio", "0.5"),
            ("compression.type", "zstd"),
            ("unclean.leader.election.enable", "True"),
        ] {
            assert_eq!(validate(k, v), Ok(()), "{k}={v}");
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        assert!(validate("retention.ms", "7d").unwrap_err().contains("integer"));
        assert!(validate("retention.ms", "-5").unwrap_err().contains("between -1"));
        assert!(validate("cleanup.policy", "compact,archive").unwrap_err().contains("archive"));
        assert!(validate("min.insync.replicas", "0").is_err());
        assert!(validate("max.message.bytes", "99999999999").is_err());
        assert!(validate("retention.msec", "1").unwrap_err().contains("Did you mean \"retention.ms\""));
    }

    #[test]
    fn broker_renderings_compare_equal() {
        assert!(same_value(List, "compact, delete", "compact,delete"));
        assert!(same_value(Boolean, "TRUE", "true"));
        assert!(same_value(Long, "0086400000", "86400000"));
        assert!(same_value(Double, "0.50", "0.5"));
        assert!(!same_value(Long, "1", "2"));
    }
}
