//! Apply: a release found in the way is recovered or refused (the decision is `recovery`, a
//! pure function), then helm installs or upgrades, with the kind's own steps around it, and the
//! state records what happened even when it failed.

use super::*;
use crate::helm::InstallOptions;

const RELEASE_INTENT: &str = "helm-release";

/// What to do about a release found before an install or upgrade.
#[derive(Debug, PartialEq)]
enum Recovery {
    /// Nothing in the way: install, upgrade, or adopt through the upgrade.
    None,
    /// Not this configuration's to touch, or possibly still in use: the reason.
    Refuse(String),
    /// Clear an interrupted or failed operation first (see `HelmRelease::recover`).
    Recover,
}

/// The recovery decision, from the release's newest revision alone. `owned`: this state holds
/// the release or an interrupted apply of this configuration started it; `interrupted`: that
/// apply's process is gone, so no helm of ours still works on it.
fn recovery(
    release: &Release,
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
    match &release.status {
        ReleaseStatus::Deployed => Recovery::None,
        ReleaseStatus::Pending(status) => {
            // The provider kills its helm at the release's timeout plus helm::GRACE: a pending
            // revision older than that has no helm of this configuration working on it.
            let age = release.recorded_at.and_then(|at| now.duration_since(at).ok());
            let abandoned = interrupted || age.is_some_and(|age| age > timeout.saturating_add(helm::GRACE));
            if !abandoned {
                return Recovery::Refuse(format!(
                    "It is {status}{}: another helm operation may still be running on it (another apply, or somebody \
                     by hand). Wait for it to end and apply again; after {} it counts as abandoned and apply recovers it.",
                    age.map(|a| format!(" since {}s", a.as_secs())).unwrap_or_default(),
                    humanize(timeout.saturating_add(helm::GRACE)),
                ));
            }
            Recovery::Recover
        }
        _ => Recovery::Recover,
    }
}

fn humanize(d: Duration) -> String {
    match d.as_secs() {
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
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

    /// Clears what an interrupted operation left: a roll back to the last good revision, or,
    /// with none ever deployed, an uninstall so the install starts over.
    async fn recover(
        &self,
        kube: &crate::k8s::Kube,
        helm: &helm::Helm,
        release: &Release,
        timeout: Duration,
    ) -> Result<(), helm::Error> {
        let (name, namespace) = (&release.name, &release.namespace);
        let last_good = kube
            .last_good_revision(namespace, name)
            .await
            .map_err(|e| helm::Error::Command { command: "recovery".into(), message: e.to_string() })?;
        match last_good {
            Some(revision) if matches!(release.status, ReleaseStatus::Pending(_)) => {
                tracing::warn!(release = %name, revision, "release abandoned pending; rolling back to its last good revision");
                helm.rollback(name, namespace, revision, timeout).await
            }
            // A failed upgrade: helm upgrades from the last deployed revision.
            Some(_) => Ok(()),
            // Helm stopped (SIGTERM when the provider dies) can also leave a first install failed
            // or half uninstalled by --atomic: helm refuses to upgrade it, so it starts over.
            None => {
                tracing::warn!(
                    release = %name,
                    status = %status_text(&release.status),
                    "no revision of the release was ever deployed; uninstalling it to start over"
                );
                helm.uninstall(name, namespace, true, timeout).await
            }
        }
    }

    pub(super) async fn apply_release(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let ApplyRequest { prior_state, planned_state, .. } = request;
        let fail = |state: Value, d: Diagnostic| ApplyResponse {
            new_state: state,
            diagnostics: d.into(),
            ..Default::default()
        };
        let kube = match ctx.kube().await {
            Ok(kube) => kube.clone(),
            Err(d) => return fail(prior_state, d),
        };
        let helm = ctx.helm();
        if planned_state.is_null() {
            let Some((name, namespace)) = self.names(&prior_state) else { return ApplyResponse::default() };
            if self.0.protected(&prior_state) {
                return fail(
                    prior_state,
                    Diagnostic::error(
                        "Deletion protection is on",
                        "Set deletion_protection = false and apply before destroying.",
                    )
                    .at(AttrPath::root("deletion_protection")),
                );
            }
            tracing::info!(release = %name, namespace = %namespace, "uninstalling release");
            if let Err(e) = helm.uninstall(&name, &namespace, true, Self::timeout(&prior_state)).await {
                return fail(prior_state, helm_diagnostic(format!("Uninstalling {name} failed"), &e));
            }
            ctx.journal.forget(RELEASE_INTENT, &Self::intent_target(&kube, &namespace, &name));
            if prior_state.attr("delete_volumes").as_bool() == Some(true)
                && let Err(e) = kube.delete_volume_claims(&namespace, &name).await
            {
                return fail(
                    Value::Null,
                    Diagnostic::error(format!("Deleting the volumes of {name} failed"), e.to_string()),
                );
            }
            return ApplyResponse::default();
        }
        let Some((name, namespace)) = self.names(&planned_state) else {
            return fail(
                prior_state,
                Diagnostic::error("Name unknown at apply", "name and namespace must be known by now."),
            );
        };
        // Settings that render no differently (deletion protection, timeouts, the volume policy)
        // change the state only: the release keeps its revision, as the plan said.
        let digest = planned_state.attr("manifest_digest");
        if !prior_state.is_null() && digest.as_str().is_some() && digest == prior_state.attr("manifest_digest") {
            return ApplyResponse { new_state: planned_state, ..Default::default() };
        }
        let target = Self::intent_target(&kube, &namespace, &name);
        let mut left_behind = None;
        match kube.latest_release(&namespace, &name).await {
            Ok(Some(release)) => {
                // Read before this apply writes its own intent over it.
                left_behind = Self::interrupted_here(ctx, &target, &release);
                let owned = !prior_state.is_null() || left_behind.is_some();
                let timeout = Self::timeout(&planned_state);
                match recovery(&release, owned, left_behind.is_some(), timeout, std::time::SystemTime::now()) {
                    Recovery::None => {}
                    Recovery::Refuse(why) => {
                        let d = Diagnostic::error(format!("Release {name} is left alone"), why);
                        let path = if owned { d } else { d.at(AttrPath::root("name")) };
                        return fail(if prior_state.is_null() { Value::Null } else { prior_state }, path);
                    }
                    Recovery::Recover => {
                        if let Err(e) = self.recover(&kube, &helm, &release, timeout).await {
                            return fail(
                                prior_state,
                                helm_diagnostic(
                                    format!(
                                        "Release {name} is stuck {} and could not be recovered",
                                        status_text(&release.status)
                                    ),
                                    &e,
                                ),
                            );
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                return fail(prior_state, Diagnostic::error(format!("Reading release {name} failed"), e.to_string()));
            }
        }
        if let Some(left) = left_behind {
            left.clear();
        }
        let grown = match (text(&prior_state, "storage_size"), text(&planned_state, "storage_size")) {
            (Some(before), Some(after)) => storage_bytes(&after) > storage_bytes(&before),
            _ => false,
        };
        if grown {
            let size = text(&planned_state, "storage_size").unwrap_or_default();
            tracing::info!(release = %name, size = %size, "growing volumes");
            if let Err(e) = kube.grow_volumes(&namespace, &name, &name, &size).await {
                return fail(
                    prior_state,
                    Diagnostic::error(
                        format!("Growing the volumes of {name} failed"),
                        format!("{e}. The storage class must allow volume expansion."),
                    )
                    .at(AttrPath::root("storage_size")),
                );
            }
        }
        let change = Change { prior: &prior_state, planned: &planned_state };
        let stepping = !prior_state.is_null() && self.0.steps_around_upgrade(change);
        // Where a stepping apply stops, the state says the change is unfinished.
        let stopped = |state: Value| if stepping { unfinished(state) } else { state };
        if stepping && let Err(d) = self.0.before_upgrade(&kube, &name, &namespace, change).await {
            return fail(stopped(prior_state.clone()), d);
        }
        let options = InstallOptions {
            wait: planned_state.attr("wait").as_bool().unwrap_or(true),
            timeout: Self::timeout(&planned_state),
            atomic: planned_state.attr("atomic").as_bool().unwrap_or(true),
        };
        tracing::info!(release = %name, namespace = %namespace, chart = self.0.chart(), "installing or upgrading release");
        let intent = ctx.journal.begin(RELEASE_INTENT, &target);
        let installed = helm
            .upgrade_install(
                &name,
                &namespace,
                &self.chart_source(&planned_state),
                &self.0.values(&planned_state),
                options,
            )
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
                if !stepping {
                    return ApplyResponse { new_state: state, ..Default::default() };
                }
                match self.0.after_upgrade(&kube, &name, &namespace, change).await {
                    Ok(()) => ApplyResponse { new_state: state, ..Default::default() },
                    Err(d) => fail(unfinished(state), d),
                }
            }
            (Ok(()), Ok(None)) => fail(
                stopped(prior_state.clone()),
                Diagnostic::error(format!("Release {name} vanished"), "helm reported success but no release exists."),
            ),
            (Ok(()), Err(e)) => fail(
                stopped(planned_state.clone()),
                Diagnostic::error(format!("Reading release {name} failed"), e.to_string()),
            ),
            // Failed: record the release as it now is (rolled back by --atomic, or failed).
            (Err(e), Ok(Some(release))) => {
                let base = if prior_state.is_null() { planned_state } else { prior_state };
                let detail = if options.atomic { " The release was rolled back to its previous revision." } else { "" };
                ApplyResponse {
                    new_state: stopped(self.state_from(&base, &release)),
                    diagnostics: Diagnostic::error(
                        format!("Installing or upgrading {name} failed"),
                        format!("{e}.{detail}"),
                    )
                    .into(),
                    ..Default::default()
                }
            }
            (Err(e), _) => fail(
                if prior_state.is_null() { Value::Null } else { stopped(prior_state.clone()) },
                helm_diagnostic(format!("Installing {name} failed"), &e),
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
        let cases = [
            // Another owner's release is never touched, whatever its state.
            (&fresh, false, false, "refuse"),
            (&stale, false, false, "refuse"),
            (&release(ReleaseStatus::Deployed, 1, Duration::ZERO), false, false, "refuse"),
            // Ours, pending for less than helm's own timeout: maybe still running.
            (&fresh, true, false, "refuse"),
            // Ours, and the process that started it is gone: helm died with it.
            (&fresh, true, true, "recover"),
            // Ours, pending longer than any helm of ours would have waited.
            (&stale, true, false, "recover"),
            (&release(ReleaseStatus::Failed, 2, Duration::ZERO), true, false, "recover"),
            (&release(ReleaseStatus::Deployed, 2, Duration::ZERO), true, false, "none"),
        ];
        for (release, owned, interrupted, expected) in cases {
            let decision = recovery(release, owned, interrupted, TIMEOUT, now);
            let got = match decision {
                Recovery::None => "none",
                Recovery::Refuse(_) => "refuse",
                Recovery::Recover => "recover",
            };
            assert_eq!(got, expected, "{:?} owned={owned} interrupted={interrupted}", release.status);
        }
    }
}
