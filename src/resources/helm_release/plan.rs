//! Plan: the chart rendered to a digest, the attributes that replace the release, and the
//! checks a release still to be installed meets against the cluster.

use super::*;

/// A replacement under the same name and namespace installs a release whose pods claim the
/// volumes the old one left (Helm keeps them): a new storage class silently does not apply, and
/// old data meets the new settings. Refused unless the old release deletes its volumes, or
/// every attribute that replaces it is one whose new release is meant to find the old data
/// (`reuses_volumes`).
fn volumes_rebound(prior: &Value, requires_replace: &[AttrPath], reuses_volumes: &[&str]) -> Option<Diagnostic> {
    let renamed = requires_replace
        .iter()
        .any(|p| *p == AttrPath::root(release_attr::name) || *p == AttrPath::root(release_attr::namespace));
    let cause = requires_replace.first()?;
    let meant = requires_replace.iter().all(|p| reuses_volumes.iter().any(|a| *p == AttrPath::root(a)));
    if renamed || meant || prior.attr("delete_volumes").as_bool() == Some(true) {
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
    async fn check_new_release(
        &self,
        ctx: &Context,
        release: &str,
        namespace: &str,
        planned: &Value,
        digest: &Value,
    ) -> Diagnostics {
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return d.into(),
        };
        let refused = self.0.check_install(kube, release, namespace, planned).await;
        if refused.has_errors() {
            return refused;
        }
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
            .at(AttrPath::root(release_attr::name))
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

    pub(super) async fn plan_release(&self, ctx: &Context, plan: &mut Plan) {
        // The provider's namespace: a default the schema cannot hold, since it comes from the
        // provider's configuration.
        if plan.config.attr(release_attr::namespace).is_null() {
            let namespace =
                if ctx.config.is_deferred("namespace") { unknown() } else { Value::string(&ctx.config.namespace) };
            plan.state.insert(release_attr::namespace.into(), namespace);
            if !plan.is_create()
                && plan.state.get(release_attr::namespace) != Some(plan.prior.attr(release_attr::namespace))
            {
                plan.requires_replace.push(AttrPath::root(release_attr::namespace));
            }
        }
        if let Some(d) = volumes_rebound(&plan.prior, &plan.requires_replace, self.0.reuses_volumes()) {
            plan.diagnostics.push(d);
        }
        let size = |state: &Value| text(state, sizing::sizing_attr::storage_size);
        if let (Some(before), Some(after)) = (size(&plan.prior), size(&plan.planned()))
            && let (Some(b), Some(a)) = (storage_bytes(&before), storage_bytes(&after))
            && a < b
        {
            plan.diagnostics.push(
                Diagnostic::error(
                    "Volumes cannot shrink",
                    format!(
                        "storage_size would go from {before} to {after}. Kubernetes cannot shrink a volume without losing its data; keep the size or grow it."
                    ),
                )
                .at(AttrPath::root(sizing::sizing_attr::storage_size)),
            );
        }
        let planned = release(&plan.planned());
        let Some((release_name, namespace)) = self.names(&planned) else {
            // Every computed value follows from the name and namespace: unknown with them,
            // never null (Terraform rejects a null that later becomes a value).
            let outputs = self.0.outputs("", "", &plan.planned()).into_iter().map(|(key, _)| key);
            let computed =
                [release_attr::id, release_attr::status, release_attr::revision, release_attr::chart_version];
            for key in computed.into_iter().chain([release_attr::manifest_digest]).chain(outputs) {
                plan.state.insert(key.into(), unknown());
            }
            return;
        };
        let name = planned.name.known().cloned().unwrap_or_default();
        plan.state.insert(release_attr::id.into(), Value::string(format!("{namespace}/{name}")));
        for (key, value) in self.0.outputs(&name, &namespace, &plan.planned()) {
            plan.state.insert(key.into(), value);
        }
        // The chart renders from the plan as apply will see it, computed outputs included.
        let planned_value = plan.planned();
        // What the chart renders from: the plan without what the release itself reports.
        let mut inputs = plan.state.clone();
        let reported = [release_attr::status, release_attr::revision, release_attr::chart_version];
        for key in reported.into_iter().chain([release_attr::manifest_digest]) {
            inputs.remove(key);
        }
        let rendering = Value::Object(inputs).is_wholly_known() && !plan.diagnostics.has_errors();
        let mut manifest = None;
        let digest = if rendering && !ctx.config.is_deferred("helm_binary") {
            let values = self.0.values(&planned_value);
            let rendered = ctx.helm().template(&release_name, &namespace, &self.chart_source(&planned), &values).await;
            match rendered.and_then(|m| Ok((manifest_digest(&m)?, m))) {
                Ok((digest, rendered)) => {
                    manifest = Some(rendered);
                    Value::String(digest)
                }
                Err(e) => {
                    plan.diagnostics.push(helm_diagnostic(format!("The chart refuses these settings for {name}"), &e));
                    unknown()
                }
            }
        } else {
            unknown()
        };
        if plan.is_create() && !plan.diagnostics.has_errors() && !ctx.kube_deferred() {
            let checks = self.check_new_release(ctx, &release_name, &namespace, &plan.planned(), &digest).await;
            plan.diagnostics.extend(checks);
        }
        if plan.is_create() || plan.replaces() {
            for key in self.0.reachable_once_installed() {
                plan.state.insert(key.to_string(), unknown());
            }
        }
        let unchanged =
            !plan.is_create() && !plan.replaces() && &digest == plan.prior.attr(release_attr::manifest_digest);
        for key in [release_attr::status, release_attr::revision, release_attr::chart_version] {
            plan.state.insert(key.into(), if unchanged { plan.prior.attr(key).clone() } else { unknown() });
        }
        plan.state.insert(release_attr::manifest_digest.into(), digest);
        if !plan.is_create() && !plan.replaces() && !plan.diagnostics.has_errors() {
            let planned = plan.planned();
            let change = PlannedChange {
                ctx,
                release: &release_name,
                namespace: &namespace,
                prior: &plan.prior,
                planned: &planned,
                manifest: manifest.as_deref(),
            };
            let checks = self.0.check_change(change).await;
            plan.diagnostics.extend(checks);
        }
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
            let planned = BTreeMap::from([
                ("name".to_string(), name),
                ("namespace".to_string(), Value::string("data")),
                ("storage_class".to_string(), class),
            ]);
            let config = Value::Object(planned.clone());
            crate::resources::framework::plan_declared(&schema.block, &prior, &config, planned).1
        };
        assert!(replaces(Value::string("events"), Value::Null).is_empty());
        assert_eq!(replaces(Value::unknown(), Value::Null), [AttrPath::root(release_attr::name)]);
        assert_eq!(replaces(Value::string("events"), Value::string("fast")), [AttrPath::root("storage_class")]);
    }

    /// The release's plan logic on its own: a name known only at apply replaces the release and
    /// leaves every value that follows from the name unknown, never null.
    #[test]
    fn a_name_known_only_at_apply_replaces_and_leaves_what_follows_from_it_unknown() {
        let release = HelmRelease(crate::resources::zookeeper_ensemble::ZookeeperEnsemble);
        let prior = Value::Object(BTreeMap::from([
            ("id".to_string(), Value::string("data/events")),
            ("name".to_string(), Value::string("events")),
            ("namespace".to_string(), Value::string("data")),
            ("connect_string".to_string(), Value::string("events-zookeeper.data.svc.cluster.local:2181")),
            ("manifest_digest".to_string(), Value::string("sha256:1")),
        ]));
        let config = Value::Object(BTreeMap::from([("name".to_string(), Value::unknown())]));
        let Value::Object(mut proposed) = prior.clone() else { unreachable!() };
        proposed.insert("name".into(), Value::unknown());
        let request = crate::tfplugin::PlanRequest {
            type_name: release.type_name().into(),
            prior_state: prior,
            proposed_new_state: Value::Object(proposed),
            config,
            prior_private: Vec::new(),
        };
        let ctx = Context::offline();
        let planned = futures::executor::block_on(crate::resources::framework::plan(&release, &ctx, request));
        assert!(!planned.diagnostics.has_errors(), "{:?}", planned.diagnostics);
        assert_eq!(planned.requires_replace, [AttrPath::root("name")]);
        for key in ["id", "connect_string", "manifest_digest", "status"] {
            assert!(planned.planned_state.attr(key).is_unknown(), "{key}");
        }
        assert_eq!(planned.planned_state.attr("namespace"), &Value::string("data"));
    }

    /// A replacement forced by storage_class or zookeeper_chroot re-bound the kept volumes of the
    /// same name: the class silently did not change, old log directories met a new chroot.
    #[test]
    fn a_replacement_under_the_same_name_needs_the_old_volumes_deleted() {
        let state = |delete_volumes: bool| {
            Value::Object(BTreeMap::from([("delete_volumes".to_string(), Value::Bool(delete_volumes))]))
        };
        let by_class = [AttrPath::root("storage_class")];
        let refused = volumes_rebound(&state(false), &by_class, &[]).expect("refused");
        assert_eq!(refused.path, Some(AttrPath::root("storage_class")));
        assert!(volumes_rebound(&state(true), &by_class, &[]).is_none());
        assert!(volumes_rebound(&Value::Null, &by_class, &[]).is_some(), "an ensemble without the attribute");
        assert!(
            volumes_rebound(&state(false), &[AttrPath::root(release_attr::name), AttrPath::root("storage_class")], &[])
                .is_none()
        );
        assert!(volumes_rebound(&state(false), &[], &[]).is_none());
        let by_authentication = [AttrPath::root("authentication")];
        assert!(volumes_rebound(&state(false), &by_authentication, &["authentication"]).is_none(), "meant");
        let both = [AttrPath::root("authentication"), AttrPath::root("storage_class")];
        assert!(
            volumes_rebound(&state(false), &both, &["authentication"]).is_some(),
            "the class still would not apply"
        );
    }
}
