//! Logs in hclog's JSON line format on stderr, which go-plugin parses so that `TF_LOG` and
//! `TF_LOG_PROVIDER` filter the provider's messages by level like Terraform's own.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The level Terraform asked for: `TF_LOG_PROVIDER`, else `TF_LOG`; warnings when neither is set.
pub fn level_from_env(env: impl Fn(&str) -> Option<String>) -> Level {
    let requested = env("TF_LOG_PROVIDER").or_else(|| env("TF_LOG")).unwrap_or_default();
    match requested.to_ascii_uppercase().as_str() {
        "TRACE" | "JSON" => Level::TRACE,
        "DEBUG" => Level::DEBUG,
        "INFO" => Level::INFO,
        "ERROR" => Level::ERROR,
        _ => Level::WARN,
    }
}

pub fn init() {
    let level = level_from_env(|k| std::env::var(k).ok());
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("terraform_provider_hikube", level)
        .with_default(Level::WARN.min(level));
    let _ = tracing_subscriber::registry().with(HclogLayer.with_filter(filter)).try_init();
}

struct HclogLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = FieldVisitor(Map::new());
        event.record(&mut fields);
        let mut line = fields.0;
        let message = line.remove("message").unwrap_or(Json::String(String::new()));
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        let mut module = event.metadata().target().replace("::", ".");
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let _ = write!(module, ".{}", span.name());
            }
        }
        line.insert("@level".into(), Json::String(level.into()));
        line.insert("@message".into(), message);
        line.insert("@module".into(), Json::String(module));
        line.insert("@timestamp".into(), Json::String(timestamp()));
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", Json::Object(line));
    }
}

struct FieldVisitor(Map<String, Json>);

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Json::String(value.into()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Json::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Json::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Json::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), Json::String(format!("{value:?}")));
    }
}

/// RFC 3339 UTC with microseconds, as hclog writes it.
fn timestamp() -> String {
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
    let mut text = String::new();
    let _ = SystemTime.format_time(&mut Writer::new(&mut text));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_specific_level_wins() {
        let env = |k: &str| match k {
            "TF_LOG" => Some("ERROR".to_string()),
            "TF_LOG_PROVIDER" => Some("debug".to_string()),
            _ => None,
        };
        assert_eq!(level_from_env(env), Level::DEBUG);
        assert_eq!(level_from_env(|_| None), Level::WARN);
    }

    #[test]
    fn timestamp_is_rfc3339() {
        let ts = timestamp();
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T');
    }
}
