//! Plan: the chart rendered to a digest, the attributes that replace the release, and the
//! checks a release still to be installed meets against the cluster.

use super::*;

/// A replacement under the same name and namespace installs a release whose pods claim the
/// volumes the old one left (Helm keeps them): a new storage class silently does not apply, and
/// old data meets the new settings. Refused unless the old release deletes its volumes.
fn volumes_rebound(prior: &Value, requires_replace: &[AttrPath]) -> Option<Diagnostic> {
    let renamed = requires_replace.iter().any(|p| *p == AttrPath::root("name") || *p == AttrPath::root("namespace"));
    let cause = requires_replace.first()?;
    if renamed || prior.attr("delete_volumes").as_bool() == Some(true) {
        return None;
    }
    Some(
        Diagnostic::error(
            "This replacement would reuse the old volumes",
            "Helm keeps the volumes of an uninstalled release, and the new release of the same name would claim them \
             again: the change would not reach them, and the old data would meet the new settings. To start from empty \
             volumes, set delete_volumes = true and apply that first (the old release's data is then deleted when it is \
             replaced); or give the new release another name.",
        )
        .at(cause.clone()),
    )
}

impl<K: ReleaseKind> HelmRelease<K> {
    /// A release about to be installed is checked against the cluster at plan: this is where
    /// the Kubernetes connection is first used, and where a name already taken shows.
    async fn check_new_release(&self, ctx: &Context, release: &str, namespace: &str, digest: &Value) -> Diagnostics {
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return d.into(),
        };
        let existing = match kube.latest_release(namespace, release).await {
            Ok(existing) => existing,
            Err(e) => {
                return Diagnostic::error(
                    format!("Cannot read the releases of namespace {namespace}"),
                    format!("{e}.\n\nCheck the provider's kubernetes settings and that its credentials may read Secrets there."),
                )
                .into();
            }
        };
        let Some(existing) = existing else { return Diagnostics::default() };
        let interrupted =
            Self::interrupted_here(ctx, &Self::intent_target(kube, namespace, release), &existing).is_some();
        match existing.status {
            _ if !interrupted => Diagnostic::warning(
                format!("Release {release} already exists in namespace {namespace}"),
                format!(
                    "This configuration did not create it. Unless this plan replaces it (Terraform plans the new half of \
                     a replacement before the old one is gone), apply will refuse to take it over. {}",
                    crate::resources::import_hint(&format!("{namespace}/{}", import_name(release)))
                ),
            )
            .at(AttrPath::root("name"))
            .into(),
            ReleaseStatus::Deployed if renders_as(&existing, digest) => Diagnostic::warning(
                format!("Release {release} was left by an interrupted apply"),
                "An earlier apply of this configuration installed it and was interrupted before Terraform recorded it; it \
                 renders exactly these objects, so apply adopts it.",
            )
            .into(),
            _ => Diagnostic::warning(
                format!("Release {release} was left by an interrupted apply"),
                format!(
                    "An earlier apply of this configuration started it and was interrupted ({}). Apply recovers it, then \
                     installs this configuration.",
                    status_text(&existing.status)
                ),
            )
            .into(),
        }
    }

    pub(super) async fn plan_release(&self, ctx: &Context, request: PlanRequest) -> PlanResponse {
        let PlanRequest { prior_state, proposed_new_state, config, prior_private, .. } = request;
        if proposed_new_state.is_null() {
            let mut diagnostics = Diagnostics::default();
            if self.0.protected(&prior_state) {
                diagnostics.push(
                    Diagnostic::error(
                        "Deletion protection is on",
                        "This cluster would be destroyed with its data. Set deletion_protection = false and apply, then destroy.",
                    )
                    .at(AttrPath::root("deletion_protection")),
                );
            }
            return PlanResponse {
                planned_state: Value::Null,
                diagnostics,
                planned_private: prior_private,
                ..Default::default()
            };
        }
        let mut diagnostics = self.validate(&config);
        let Value::Object(mut planned) = proposed_new_state else {
            return PlanResponse { diagnostics, ..Default::default() };
        };
        // The provider's namespace: a default the schema cannot hold, since it comes from the
        // provider's configuration.
        if config.attr("namespace").is_null() {
            let namespace =
                if ctx.config.is_deferred("namespace") { unknown() } else { Value::string(&ctx.config.namespace) };
            planned.insert("namespace".into(), namespace);
        }
        let requires_replace =
            crate::resources::framework::plan_declared(&self.schema().block, &prior_state, &config, &mut planned);
        if let Some(d) = volumes_rebound(&prior_state, &requires_replace) {
            diagnostics.push(d);
        }
        if let (Some(before), Some(after)) = (
            text(&prior_state, "storage_size").and_then(|s| storage_bytes(&s)),
            planned.get("storage_size").and_then(Value::as_str).and_then(storage_bytes),
        ) && after < before
        {
            diagnostics.push(
                    Diagnostic::error(
                        "Volumes cannot shrink",
                        format!(
                            "storage_size would go from {} to {}. Kubernetes cannot shrink a volume without losing its data; keep the size or grow it.",
                            text(&prior_state, "storage_size").unwrap_or_default(),
                            text(&Value::Object(planned.clone()), "storage_size").unwrap_or_default()
                        ),
                    )
                    .at(AttrPath::root("storage_size")),
                );
        }
        let planned_value = Value::Object(planned.clone());
        let (release, namespace) = match self.names(&planned_value) {
            Some(names) => names,
            None => {
                // Every computed value follows from the name and namespace: unknown with them,
                // never null (Terraform rejects a null that later becomes a value).
                let outputs = self.0.outputs("", "", &planned_value).into_iter().map(|(key, _)| key);
                for key in ["id", "status", "revision", "chart_version", "manifest_digest"].into_iter().chain(outputs) {
                    planned.insert(key.into(), unknown());
                }
                return PlanResponse {
                    planned_state: Value::Object(planned),
                    requires_replace,
                    planned_private: prior_private,
                    diagnostics,
                };
            }
        };
        let name = text(&planned_value, "name").unwrap_or_default();
        planned.insert("id".into(), Value::string(format!("{namespace}/{name}")));
        for (key, value) in self.0.outputs(&name, &namespace, &planned_value) {
            planned.insert(key.into(), value);
        }
        // The chart renders from the plan as apply will see it, computed outputs included.
        let planned_value = Value::Object(planned.clone());
        let replacing = !requires_replace.is_empty();
        let digest =
            if planned_value.is_wholly_known() && !diagnostics.has_errors() && !ctx.config.is_deferred("helm_binary") {
                let values = self.0.values(&planned_value);
                match ctx
                    .helm()
                    .template(&release, &namespace, &self.chart_source(&planned_value), &values)
                    .await
                    .map(|m| manifest_digest(&m))
                {
                    Ok(Ok(digest)) => Value::String(digest),
                    Ok(Err(e)) | Err(e) => {
                        diagnostics.push(helm_diagnostic(format!("The chart refuses these settings for {name}"), &e));
                        unknown()
                    }
                }
            } else {
                unknown()
            };
        if prior_state.is_null() && !diagnostics.has_errors() && !ctx.kube_deferred() {
            diagnostics.extend(self.check_new_release(ctx, &release, &namespace, &digest).await);
        }
        if prior_state.is_null() || replacing {
            for key in self.0.reachable_once_installed() {
                planned.insert(key.to_string(), unknown());
            }
        }
        let unchanged = !prior_state.is_null() && !replacing && &digest == prior_state.attr("manifest_digest");
        for key in ["status", "revision", "chart_version"] {
            planned.insert(key.into(), if unchanged { prior_state.attr(key).clone() } else { unknown() });
        }
        planned.insert("manifest_digest".into(), digest);
        let planned = Value::Object(planned);
        if !prior_state.is_null() && !replacing && !diagnostics.has_errors() {
            diagnostics.extend(self.0.check_change(ctx, &prior_state, &planned).await);
        }
        PlanResponse { planned_state: planned, requires_replace, planned_private: prior_private, diagnostics }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A release's replacing attributes as its schema declares them: a name known only at apply
    /// replaces (an in-place update would be an inconsistent plan), an unchanged one does not.
    #[test]
    fn an_unknown_or_changed_name_replaces_a_release_and_an_unchanged_one_does_not() {
        let schema = HelmRelease(crate::resources::zookeeper_ensemble::ZookeeperEnsemble).schema();
        let prior = Value::Object(BTreeMap::from([
            ("name".to_string(), Value::string("events")),
            ("namespace".to_string(), Value::string("data")),
            ("storage_class".to_string(), Value::Null),
        ]));
        let replaces = |name: Value, class: Value| {
            let mut planned = BTreeMap::from([
                ("name".to_string(), name),
                ("namespace".to_string(), Value::string("data")),
                ("storage_class".to_string(), class),
            ]);
            let config = Value::Object(planned.clone());
            crate::resources::framework::plan_declared(&schema.block, &prior, &config, &mut planned)
        };
        assert!(replaces(Value::string("events"), Value::Null).is_empty());
        assert_eq!(replaces(Value::unknown(), Value::Null), [AttrPath::root("name")]);
        assert_eq!(replaces(Value::string("events"), Value::string("fast")), [AttrPath::root("storage_class")]);
    }

    /// A replacement forced by storage_class or zookeeper_chroot re-bound the kept volumes of the
    /// same name: the class silently did not change, old log directories met a new chroot.
    #[test]
    fn a_replacement_under_the_same_name_needs_the_old_volumes_deleted() {
        let state = |delete_volumes: bool| {
            Value::Object(BTreeMap::from([("delete_volumes".to_string(), Value::Bool(delete_volumes))]))
        };
        let by_class = [AttrPath::root("storage_class")];
        let refused = volumes_rebound(&state(false), &by_class).expect("refused");
        assert_eq!(refused.path, Some(AttrPath::root("storage_class")));
        assert!(volumes_rebound(&state(true), &by_class).is_none());
        assert!(volumes_rebound(&Value::Null, &by_class).is_some(), "an ensemble without the attribute");
        assert!(volumes_rebound(&state(false), &[AttrPath::root("name"), AttrPath::root("storage_class")]).is_none());
        assert!(volumes_rebound(&state(false), &[]).is_none());
    }
}
