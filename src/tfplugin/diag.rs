//! Diagnostics as Terraform shows them: severity, summary, a detail that says what to do, and
//! the attribute path they concern.

use std::fmt;

use super::proto;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path into a resource's configuration, such as `config["retention.ms"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root(name: &str) -> AttrPath {
        AttrPath(vec![PathStep::Attr(name.to_string())])
    }

    pub fn attr(mut self, name: &str) -> AttrPath {
        self.0.push(PathStep::Attr(name.to_string()));
        self
    }

    pub fn key(mut self, key: &str) -> AttrPath {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }

    pub fn index(mut self, index: i64) -> AttrPath {
        self.0.push(PathStep::Index(index));
        self
    }

    pub(crate) fn to_proto(&self) -> proto::AttributePath {
        use proto::attribute_path::{Step, step::Selector};
        proto::AttributePath {
            steps: self
                .0
                .iter()
                .map(|step| Step {
                    selector: Some(match step {
                        PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, summary: summary.into(), detail: detail.into(), path: None }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(summary, detail) }
    }

    pub fn at(mut self, path: AttrPath) -> Diagnostic {
        self.path = Some(path);
        self
    }

    /// Adds what to do about it, after the cause, as a paragraph of its own.
    pub fn with_hint(mut self, hint: &str) -> Diagnostic {
        if !hint.is_empty() {
            self.detail = format!("{}.\n\n{hint}", self.detail.trim_end_matches('.'));
        }
        self
    }

    /// Terraform quotes the configuration line of a top-level attribute, but for an attribute
    /// nested in an object (`kafka.tls.ca_cert`) it quotes the whole block: the detail then
    /// starts with the path, so the reader still sees which attribute is meant.
    fn detail_for_terraform(&self) -> String {
        match &self.path {
            Some(path) if path.0.len() > 1 && path.0[1..].iter().any(|s| matches!(s, PathStep::Attr(_))) => {
                format!("{path}: {}", self.detail)
            }
            _ => self.detail.clone(),
        }
    }

    pub(crate) fn to_proto(&self) -> proto::Diagnostic {
        proto::Diagnostic {
            severity: match self.severity {
                Severity::Error => proto::diagnostic::Severity::Error,
                Severity::Warning => proto::diagnostic::Severity::Warning,
            } as i32,
            summary: self.summary.clone(),
            detail: self.detail_for_terraform(),
            attribute: self.path.as_ref().map(AttrPath::to_proto),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub(crate) fn to_proto(&self) -> Vec<proto::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Diagnostics {
        Diagnostics(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nested_attributes_are_named_in_the_detail() {
        let detail = |path: AttrPath| Diagnostic::error("s", "fix it").at(path).to_proto().detail;
        assert_eq!(detail(AttrPath::root("kafka").attr("tls").attr("ca_cert")), "kafka.tls.ca_cert: fix it");
        assert_eq!(detail(AttrPath::root("partitions")), "fix it");
        assert_eq!(detail(AttrPath::root("config").key("retention.ms")), "fix it");
        assert_eq!(Diagnostic::error("s", "fix it").to_proto().detail, "fix it");
    }
}
