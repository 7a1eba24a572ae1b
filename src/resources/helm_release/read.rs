//! Read and import: the release as it is, its values as attributes, its status, and the live
//! objects compared with its manifest.

use super::*;

/// At most this many drifted fields are listed in a warning; the rest are counted.
const DRIFT_LINES: usize = 10;

impl<K: ReleaseKind> HelmRelease<K> {
    pub(super) async fn read_release(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        let ReadRequest { current_state, private, .. } = request;
        let keep = |d: Diagnostic| ReadResponse {
            new_state: current_state.clone(),
            private: private.clone(),
            diagnostics: d.into(),
        };
        let Some((name, namespace)) = self.names(&release(&current_state)) else {
            return keep(Diagnostic::warning("Incomplete state", "name or namespace missing"));
        };
        // The cluster is known only after apply: the release is as it was, until then.
        if ctx.kube_deferred() {
            return ReadResponse { new_state: current_state, private, diagnostics: Diagnostics::default() };
        }
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return keep(d),
        };
        let release = match kube.latest_release(&namespace, &name).await {
            Ok(Some(release)) => release,
            Ok(None) => {
                tracing::info!(release = %name, "release no longer exists; removing it from state");
                return ReadResponse::default();
            }
            Err(e) => return keep(kube_diagnostic(format!("Reading release {name} failed"), &e)),
        };
        let Value::Object(mut state) = self.state_from(&current_state, &release) else {
            return keep(Diagnostic::error("Invalid state", ""));
        };
        // What the release runs now, as attributes: a rollback or upgrade by hand shows as a change.
        for (key, value) in self.0.attributes_from_values(&release.values) {
            let value = as_configured(value, current_state.attr(&key));
            state.insert(key, value);
        }
        let mut diagnostics = Diagnostics::default();
        if let Some(marker) =
            current_state.attr(release_attr::manifest_digest).as_str().filter(|d| d.starts_with(UNFINISHED))
        {
            state.insert(release_attr::manifest_digest.into(), Value::string(marker));
            diagnostics.push(Diagnostic::warning(
                format!("The last change to {name} is unfinished"),
                "An apply stopped between helm's upgrade and the provider's steps around it (see that apply's error). \
                 The next apply completes it.",
            ).at(AttrPath::root(release_attr::manifest_digest)));
        } else if release.status != ReleaseStatus::Deployed {
            state.insert(
                "manifest_digest".into(),
                Value::string(format!("{}:{}", status_text(&release.status), release.revision)),
            );
            diagnostics.push(Diagnostic::warning(
                format!("Release {name} is {}", status_text(&release.status)),
                "Its last operation did not complete. The next apply recovers it and applies the configuration again: at \
                 once if an apply of this configuration was interrupted, otherwise once no helm operation can still be \
                 running on it (the resource's timeout plus a minute after it started).",
            ));
        } else {
            match crate::k8s::live_drift(kube.client(), &namespace, &release.manifest).await {
                Ok(drifts) if !drifts.is_empty() => {
                    let mut lines: Vec<String> = drifts.iter().take(DRIFT_LINES).map(|d| format!("- {d}")).collect();
                    if drifts.len() > DRIFT_LINES {
                        lines.push(format!("- and {} more", drifts.len() - DRIFT_LINES));
                    }
                    let mut hasher = Sha256::new();
                    for d in &drifts {
                        hasher.update(d.to_string().as_bytes());
                    }
                    state.insert(
                        release_attr::manifest_digest.into(),
                        Value::string(format!("drifted:{:x}", hasher.finalize())),
                    );
                    diagnostics.push(Diagnostic::warning(
                        format!("Objects of {name} were changed outside Terraform"),
                        format!("{}\n\nThe next apply restores them from the release.", lines.join("\n")),
                    ));
                }
                Ok(_) => {}
                Err(e) => diagnostics.push(Diagnostic {
                    severity: crate::tfplugin::diag::Severity::Warning,
                    ..kube_diagnostic(format!("Could not compare the live objects of {name}"), &e)
                }),
            }
        }
        ReadResponse { new_state: Value::Object(state), private, diagnostics }
    }

    /// The state of the release `namespace/name` as a configuration that sets only its name and
    /// namespace plans it.
    fn named_state(&self, name: &str, namespace: &str) -> BTreeMap<String, Value> {
        let mut state = BTreeMap::new();
        let common = ReleaseState {
            id: Field::Known(format!("{namespace}/{name}")),
            name: Field::Known(name.to_string()),
            namespace: Field::Known(namespace.to_string()),
            ..Default::default()
        };
        common.write(&mut state);
        for attribute in self.schema().block.attributes {
            let value = state.entry(attribute.name).or_default();
            if let (Value::Null, Some(default)) = (&value, attribute.default) {
                *value = default;
            }
        }
        state
    }

    /// A release that hashicorp/helm's `helm_release` installed from this provider's chart, taken
    /// over as it is: the state names it, and the refresh that follows reads the rest from the
    /// release, as after an import.
    pub(super) fn moved_from_helm(&self, source: &serde_json::Value) -> Result<Value, Diagnostics> {
        let refused = |why: String| {
            Diagnostics::from(Diagnostic::error(
                "Cannot move this helm_release",
                format!("{why} Remove the moved block: the helm_release stays managed as it is."),
            ))
        };
        let name = source["name"].as_str().ok_or_else(|| refused("Its state has no release name.".into()))?;
        let namespace = source["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
        let chart = self.0.chart();
        // hashicorp/helm records the chart's name in `metadata` (a list up to v2, an object since
        // v3); `chart` may be a path, a URL or an archive.
        let metadata = if source["metadata"].is_array() { &source["metadata"][0] } else { &source["metadata"] };
        let installed = metadata["chart"]
            .as_str()
            .or_else(|| source["chart"].as_str().and_then(|c| c.trim_end_matches('/').rsplit('/').next()))
            .unwrap_or_default();
        if installed != chart {
            return Err(refused(format!("Release {name} runs chart {installed:?}, not this provider's {chart:?}.")));
        }
        let suffix = format!("-{chart}");
        let Some(prefix) = name.strip_suffix(&suffix).filter(|prefix| !prefix.is_empty()) else {
            return Err(refused(format!(
                "{} names its release <name>{suffix}, and release {name} cannot be renamed without reinstalling it.",
                self.0.type_name()
            )));
        };
        let mut state = self.named_state(prefix, namespace);
        let planned = Value::Object(state.clone());
        state.extend(self.0.outputs(prefix, namespace, &planned).into_iter().map(|(key, value)| (key.into(), value)));
        Ok(Value::Object(state))
    }

    pub(super) async fn import_release(&self, ctx: &Context, id: &str) -> ImportResponse {
        let fail = |d: Diagnostic| ImportResponse { diagnostics: d.into(), ..Default::default() };
        let Some((namespace, name)) = id.split_once('/') else {
            return fail(Diagnostic::error("Invalid import ID", format!("{id:?} is not namespace/name.")));
        };
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return fail(d),
        };
        let release_name = format!("{name}-{}", self.0.chart());
        let release = match kube.latest_release(namespace, &release_name).await {
            Ok(Some(release)) => release,
            Ok(None) => {
                return fail(Diagnostic::error(
                    "Release not found",
                    format!("No Helm release {release_name} in namespace {namespace}."),
                ));
            }
            Err(e) => return fail(kube_diagnostic(format!("Reading release {name} failed"), &e)),
        };
        if release.chart_name != self.0.chart() {
            return fail(Diagnostic::error(
                "Not this kind of release",
                format!("{id} runs chart {:?}, not {:?}.", release.chart_name, self.0.chart()),
            ));
        }
        let mut state = self.named_state(name, namespace);
        state.extend(self.0.attributes_from_values(&release.values));
        let planned = Value::Object(state);
        let mut state = self.state_from(&planned, &release);
        if let Value::Object(object) = &mut state {
            for (key, value) in self.0.outputs(name, namespace, &planned) {
                object.insert(key.into(), value);
            }
        }
        ImportResponse::single(self.0.type_name(), state)
    }
}

/// Chart values cannot tell an empty map or list from an absent one: the configuration's choice
/// stands, or `config = {}` would read back as null and plan a change on every run.
fn as_configured(read: Value, state: &Value) -> Value {
    let empty = |v: &Value| matches!(v, Value::Map(m) if m.is_empty()) || matches!(v, Value::List(l) if l.is_empty());
    if read.is_null() && empty(state) { state.clone() } else { read }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn an_empty_map_and_an_absent_one_read_back_as_configured() {
        let empty = Value::Map(BTreeMap::new());
        assert_eq!(as_configured(Value::Null, &empty), empty);
        assert_eq!(as_configured(Value::Null, &Value::Null), Value::Null);
        let set = Value::Map(BTreeMap::from([("a".to_string(), Value::string("1"))]));
        assert_eq!(as_configured(set.clone(), &empty), set, "a change made by hand still shows");
        assert_eq!(as_configured(Value::Null, &set), Value::Null, "so does a removal");
    }
}
