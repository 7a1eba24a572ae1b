//! Apply: a release found in the way is recovered or refused (the decision is `recovery`, a
//! pure function), then helm installs or upgrades, with the kind's own steps around it, and the
//! state records what happened even when it failed.

use super::*;
use crate::helm::InstallOptions;

const RELEASE_INTENT: &str = "helm-release";

/// What to do about a release found before an install or upgrade.
#[derive(Debug, PartialEq)]
enum Recovery {
    /// Nothing in the way: upgrade it (or, after a failed upgrade, upgrade from the last
    /// deployed revision, as helm does).
    Nothing,
    /// Deployed by an interrupted apply of this configuration: the upgrade takes it over.
    Adopt,
    /// Not this configuration's to touch, or possibly still in use: the reason.
    Refuse(String),
    /// Left pending by an operation that is over: back to this last good revision first.
    RollBack(i64),
    /// Never deployed (a first install failed, or was half uninstalled by --atomic): helm
    /// refuses to upgrade it, so it starts over.
    Uninstall,
}

/// The recovery decision, from the release's newest revision and its last good one. `owned`:
/// this state holds the release or an interrupted apply of this configuration started it;
/// `interrupted`: that apply's process is gone, so no helm of ours still works on it.
fn recovery(
    release: &Release,
    last_good: Option<i64>,
    owned: bool,
    interrupted: bool,
    timeout: Duration,
    now: std::time::SystemTime,
) -> Recovery {
    if !owned {
        return Recovery::Refuse(format!(
            "A release of this name exists in namespace {} ({}), and this configuration did not create it: it is not \
             taken over. {}",
            release.namespace,
            status_text(&release.status),
            crate::resources::import_hint(&format!("{}/{}", release.namespace, import_name(&release.name)))
        ));
    }
    match (&release.status, last_good) {
        (ReleaseStatus::Deployed, _) if interrupted => Recovery::Adopt,
        (ReleaseStatus::Deployed, _) => Recovery::Nothing,
        (ReleaseStatus::Pending(status), _) => {
            // The provider kills its helm at the release's timeout plus helm::GRACE: a pending
            // revision older than that has no helm of this configuration working on it.
            let age = release.recorded_at.and_then(|at| now.duration_since(at).ok());
            let abandoned = interrupted || age.is_some_and(|age| age > timeout.saturating_add(helm::GRACE));
            match last_good {
                _ if !abandoned => Recovery::Refuse(format!(
                    "It is {status}{}: another helm operation may still be running on it (another apply, or somebody \
                     by hand). Wait for it to end and apply again; after {} it counts as abandoned and apply recovers it.",
                    age.map(|a| format!(" since {}s", a.as_secs())).unwrap_or_default(),
                    duration::format(timeout.saturating_add(helm::GRACE)),
                )),
                Some(revision) => Recovery::RollBack(revision),
                None => Recovery::Uninstall,
            }
        }
        (_, Some(_)) => Recovery::Nothing,
        (_, None) => Recovery::Uninstall,
    }
}

impl<K: ReleaseKind> HelmRelease<K> {
    /// The journal's name for a release: the API server the provider reaches, then namespace
    /// and release name.
    pub(super) fn intent_target(kube: &crate::k8s::Kube, namespace: &str, release: &str) -> String {
        format!("{}/{namespace}/{release}", kube.cluster_url())
    }

    /// The record of an interrupted operation on this release, if the revision found is one that
    /// operation made (recorded after it began; a minute of room for the clocks): a release made
    /// by somebody else after it, or by hand, proves nothing of the sort.
    pub(super) fn interrupted_here(
        ctx: &Context,
        target: &str,
        release: &Release,
    ) -> Option<crate::resources::intents::LeftBehind> {
        let left = ctx.journal.left_behind(RELEASE_INTENT, target)?;
        let made_by_it = release.recorded_at.is_none_or(|at| at + Duration::from_secs(60) >= left.started);
        made_by_it.then_some(left)
    }

    pub(super) async fn uninstall(&self, ctx: &Context, prior: Value) -> ApplyResponse {
        let state = release(&prior);
        let Some((name, namespace)) = self.names(&state) else { return ApplyResponse::default() };
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return fail(prior, d),
        };
        tracing::info!(release = %name, namespace = %namespace, "uninstalling release");
        if let Err(e) = ctx.helm().uninstall(&name, &namespace, true, Self::timeout(&state)).await {
            return fail(prior, helm_diagnostic(format!("Uninstalling {name} failed"), &e));
        }
        ctx.journal.forget(RELEASE_INTENT, &Self::intent_target(kube, &namespace, &name));
        // The release is gone either way: each step after it runs, and their failures are told
        // together, with nothing left in state.
        let mut diagnostics = Diagnostics::default();
        if prior.attr("delete_volumes").as_bool() == Some(true)
            && let Err(e) = kube.delete_volume_claims(&namespace, &name).await
        {
            diagnostics.push(kube_diagnostic(format!("Deleting the volumes of {name} failed"), &e));
        }
        if let Err(d) = self.0.after_uninstall(kube, &name, &namespace).await {
            diagnostics.push(d);
        }
        ApplyResponse { diagnostics, ..Default::default() }
    }

    /// Clears the way for an install or upgrade: a release found there is recovered or refused.
    /// What an interrupted apply of this configuration left is returned, for the caller to
    /// clear once its own intent is recorded.
    async fn clear_the_way(
        &self,
        ctx: &Context,
        kube: &Kube,
        owned_by_state: bool,
        names: (&str, &str),
        timeout: Duration,
    ) -> Result<Option<crate::resources::intents::LeftBehind>, Diagnostic> {
        let (name, namespace) = names;
        let release = match kube.latest_release(namespace, name).await {
            Ok(Some(release)) => release,
            Ok(None) => return Ok(None),
            Err(e) => return Err(kube_diagnostic(format!("Reading release {name} failed"), &e)),
        };
        // Read before this apply writes its own intent over it.
        let left_behind = Self::interrupted_here(ctx, &Self::intent_target(kube, namespace, name), &release);
        let owned = owned_by_state || left_behind.is_some();
        // Only a release this configuration may recover has its history read.
        let last_good = match release.status {
            ReleaseStatus::Deployed => None,
            _ if !owned => None,
            _ => kube
                .last_good_revision(namespace, name)
                .await
                .map_err(|e| kube_diagnostic(format!("Reading the history of release {name} failed"), &e))?,
        };
        let stuck = |e: helm::Error| {
            helm_diagnostic(
                format!("Release {name} is stuck {} and could not be recovered", status_text(&release.status)),
                &e,
            )
        };
        let helm = ctx.helm();
        match recovery(&release, last_good, owned, left_behind.is_some(), timeout, std::time::SystemTime::now()) {
            Recovery::Nothing => {}
            Recovery::Adopt => tracing::warn!(release = %name, "taking over the release an interrupted apply deployed"),
            Recovery::Refuse(why) => {
                let d = Diagnostic::error(format!("Release {name} is left alone"), why);
                return Err(if owned { d } else { d.at(AttrPath::root(release_attr::name)) });
            }
            Recovery::RollBack(revision) => {
                tracing::warn!(release = %name, revision, "release abandoned pending; rolling back to its last good revision");
                helm.rollback(name, namespace, revision, timeout).await.map_err(stuck)?;
            }
            Recovery::Uninstall => {
                tracing::warn!(release = %name, status = %status_text(&release.status), "no revision of the release was ever deployed; uninstalling it to start over");
                helm.uninstall(name, namespace, true, timeout).await.map_err(stuck)?;
            }
        }
        Ok(left_behind)
    }

    pub(super) async fn install_or_upgrade(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let ApplyRequest { prior_state, planned_state, .. } = request;
        // A failed create records nothing; a failed update keeps the prior state.
        let unchanged = || prior_state.clone();
        let kube = match ctx.kube().await {
            Ok(kube) => kube.clone(),
            Err(d) => return fail(unchanged(), d),
        };
        let helm = ctx.helm();
        let planned = release(&planned_state);
        let Some((name, namespace)) = self.names(&planned) else {
            return fail(
                unchanged(),
                Diagnostic::error("Name unknown at apply", "name and namespace must be known by now."),
            );
        };
        // Settings that render no differently (deletion protection, timeouts, the volume policy)
        // change the state only: the release keeps its revision, as the plan said.
        let digest = planned.manifest_digest.known();
        if !prior_state.is_null() && digest.is_some() && digest == release(&prior_state).manifest_digest.known() {
            return ApplyResponse { new_state: planned_state, ..Default::default() };
        }
        let timeout = Self::timeout(&planned);
        match self.clear_the_way(ctx, &kube, !prior_state.is_null(), (&name, &namespace), timeout).await {
            Ok(Some(left)) => left.clear(),
            Ok(None) => {}
            Err(d) => return fail(unchanged(), d),
        }
        let size = |state: &Value| text(state, sizing::sizing_attr::storage_size).and_then(|s| storage_bytes(&s));
        if let (Some(before), Some(after)) = (size(&prior_state), size(&planned_state))
            && after > before
        {
            let size = text(&planned_state, sizing::sizing_attr::storage_size).unwrap_or_default();
            tracing::info!(release = %name, size = %size, "growing volumes");
            if let Err(e) = kube.grow_volumes(&namespace, &name, &name, &size).await {
                return fail(
                    unchanged(),
                    kube_diagnostic(format!("Growing the volumes of {name} failed"), &e)
                        .with_hint("The storage class must allow volume expansion.")
                        .at(AttrPath::root(sizing::sizing_attr::storage_size)),
                );
            }
        }
        if let Err(d) = self.0.before_install(&kube, &name, &namespace, &prior_state, &planned_state).await {
            return fail(unchanged(), d);
        }
        let change = Change {
            ctx,
            kube: &kube,
            release: &name,
            namespace: &namespace,
            prior: &prior_state,
            planned: &planned_state,
            timeout,
        };
        let stepping = !prior_state.is_null() && self.0.steps_around_upgrade(change);
        // Where a stepping apply stops, the state says the change is unfinished.
        let stopped = |state: Value| if stepping && !state.is_null() { unfinished(state) } else { state };
        if stepping && let Err(d) = self.0.before_upgrade(change).await {
            return fail(stopped(unchanged()), d);
        }
        let options = InstallOptions {
            wait: planned.wait.known().copied().unwrap_or(true),
            timeout,
            atomic: planned_state.attr("atomic").as_bool().unwrap_or(true),
        };
        tracing::info!(release = %name, namespace = %namespace, chart = self.0.chart(), "installing or upgrading release");
        let intent = ctx.journal.begin(RELEASE_INTENT, &Self::intent_target(&kube, &namespace, &name));
        let installed = helm
            .upgrade_install(&name, &namespace, &self.chart_source(&planned), &self.0.values(&planned_state), options)
            .await;
        // helm failed or was stopped: whatever it left (a pending or failed revision) is this
        // configuration's to recover, and the record that stays proves it to the next apply.
        if let Some(intent) = intent
            && installed.is_ok()
        {
            intent.finish();
        }
        let release = kube.latest_release(&namespace, &name).await;
        match (installed, release) {
            (Ok(()), Ok(Some(release))) => {
                let state = self.state_from(&planned_state, &release);
                if prior_state.is_null()
                    && options.wait
                    && let Err(d) = self.0.after_install(change).await
                {
                    return self.undo_install(&helm, change, options, state, d).await;
                }
                if !stepping {
                    return ApplyResponse { new_state: state, ..Default::default() };
                }
                match self.0.after_upgrade(change).await {
                    Ok(()) => ApplyResponse { new_state: state, ..Default::default() },
                    Err(d) => fail(unfinished(state), d),
                }
            }
            (Ok(()), Ok(None)) => fail(
                stopped(unchanged()),
                Diagnostic::error(format!("Release {name} vanished"), "helm reported success but no release exists."),
            ),
            (Ok(()), Err(e)) => {
                fail(stopped(planned_state.clone()), kube_diagnostic(format!("Reading release {name} failed"), &e))
            }
            // Failed: record the release as it now is (rolled back by --atomic, or failed).
            (Err(e), Ok(Some(release))) => {
                let base = if prior_state.is_null() { &planned_state } else { &prior_state };
                let rolled_back =
                    if options.atomic { "The release was rolled back to its previous revision." } else { "" };
                fail(
                    stopped(self.state_from(base, &release)),
                    helm_diagnostic(format!("Installing or upgrading {name} failed"), &e).with_hint(rolled_back),
                )
            }
            (Err(e), _) => fail(stopped(unchanged()), helm_diagnostic(format!("Installing {name} failed"), &e)),
        }
    }
}

/// A failed apply that leaves `state` for Terraform to record.
fn fail(state: Value, d: Diagnostic) -> ApplyResponse {
    ApplyResponse { new_state: state, diagnostics: d.into(), ..Default::default() }
}

impl<K: ReleaseKind> HelmRelease<K> {
    /// An install whose pods never became Ready: with `atomic`, uninstalled as helm's `--atomic`
    /// does when its own wait fails, so that the next apply installs again instead of having to
    /// replace a tainted resource; without, kept for a look, tainted.
    async fn undo_install(
        &self,
        helm: &crate::helm::Helm,
        change: Change<'_>,
        options: InstallOptions,
        installed: Value,
        failure: Diagnostic,
    ) -> ApplyResponse {
        let Change { kube, release: name, namespace, .. } = change;
        if !options.atomic {
            return fail(
                installed,
                failure.with_hint("The release is kept (atomic = false); Terraform marks it tainted."),
            );
        }
        tracing::info!(release = %name, "uninstalling a release whose pods did not become Ready (atomic)");
        match helm.uninstall(name, namespace, true, options.timeout).await {
            Ok(()) => {
                if let Err(d) = self.0.after_uninstall(kube, name, namespace).await {
                    tracing::warn!(release = %name, error = %d.detail, "cleaning up after the uninstall failed");
                }
                fail(Value::Null, failure.with_hint("The release was uninstalled (atomic); its volumes are kept."))
            }
            Err(e) => fail(
                installed,
                failure.with_hint(&format!("Uninstalling it (atomic) failed too: {e}. Terraform marks it tainted.")),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn release(status: ReleaseStatus, revision: i64, age: Duration) -> Release {
        Release {
            name: "events-kafka".into(),
            namespace: "data".into(),
            revision,
            status,
            values: Json::Null,
            manifest: String::new(),
            chart_name: "kafka".into(),
            chart_version: "0.1.0".into(),
            recorded_at: Some(SystemTime::now() - age),
        }
    }

    fn pending(age: Duration) -> Release {
        release(ReleaseStatus::Pending("pending-upgrade".into()), 3, age)
    }

    const TIMEOUT: Duration = Duration::from_secs(600);

    /// A release in pending-* used to be rolled back or uninstalled whoever owned it and whether
    /// or not a helm operation was still running on it.
    #[test]
    fn only_a_release_of_this_configuration_whose_operation_is_over_is_recovered() {
        let now = SystemTime::now();
        let fresh = pending(Duration::from_secs(30));
        let stale = pending(TIMEOUT + helm::GRACE + Duration::from_secs(1));
        let deployed = release(ReleaseStatus::Deployed, 2, Duration::ZERO);
        let failed = release(ReleaseStatus::Failed, 2, Duration::ZERO);
        use Recovery::*;
        let refuse = Refuse(String::new());
        // (release, last good revision, owned, interrupted, decision)
        let cases = [
            // Another owner's release is never touched, whatever its state.
            (&fresh, Some(2), false, false, &refuse),
            (&stale, Some(2), false, false, &refuse),
            (&deployed, None, false, false, &refuse),
            // Ours, pending for less than helm's own timeout: maybe still running.
            (&fresh, Some(2), true, false, &refuse),
            // Ours, and the process that started it is gone: helm died with it.
            (&fresh, Some(2), true, true, &RollBack(2)),
            (&fresh, None, true, true, &Uninstall),
            // Ours, pending longer than any helm of ours would have waited.
            (&stale, Some(1), true, false, &RollBack(1)),
            (&stale, None, true, false, &Uninstall),
            // A failed upgrade is upgraded from the last deployed revision; a failed first
            // install starts over.
            (&failed, Some(1), true, false, &Nothing),
            (&failed, None, true, false, &Uninstall),
            (&deployed, Some(2), true, false, &Nothing),
            // Deployed by an interrupted apply of this configuration.
            (&deployed, Some(2), true, true, &Adopt),
        ];
        for (release, last_good, owned, interrupted, expected) in cases {
            let decision = recovery(release, last_good, owned, interrupted, TIMEOUT, now);
            let same = match (&decision, expected) {
                (Refuse(_), Refuse(_)) => true,
                (decision, expected) => decision == expected,
            };
            assert!(
                same,
                "{:?} last_good={last_good:?} owned={owned} interrupted={interrupted}: {decision:?}, not {expected:?}",
                release.status
            );
        }
    }
}
