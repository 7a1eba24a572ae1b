//! Secrets the provider makes and reads: a cluster's admin credentials, generated here and kept
//! only in Kubernetes, and the credentials a Kafka connection names instead of holding them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

use super::{Error, Kube};

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const PROVIDER: &str = "terraform-provider-hikube";
const INSTANCE: &str = "app.kubernetes.io/instance";

/// What [`Kube::ensure_owned_secret`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Ensured {
    Created,
    /// It was there already, made by this provider for the same owner: kept as it is.
    Kept,
}

fn owned_by(secret: &Secret, owner: &str) -> bool {
    let labels = secret.metadata.labels.as_ref();
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    label(MANAGED_BY) == Some(PROVIDER) && label(INSTANCE) == Some(owner)
}

/// A Secret found where one would be made: kept if it is `owner`'s, refused otherwise.
fn kept_if_owned(found: &Secret, namespace: &str, name: &str, owner: &str) -> Result<Ensured, Error> {
    if owned_by(found, owner) { Ok(Ensured::Kept) } else { Err(foreign(namespace, name, owner)) }
}

fn foreign(namespace: &str, name: &str, owner: &str) -> Error {
    Error::Foreign(format!(
        "Secret {namespace}/{name} exists and was not made by this provider for {owner} (labels \
         {MANAGED_BY}={PROVIDER}, {INSTANCE}={owner}): it is left alone"
    ))
}

impl Kube {
    /// A Secret of generated data that belongs to `owner` (a release): made when missing if
    /// `create` (else not found is the error), kept untouched when this provider made it for
    /// that owner, refused when anybody else's.
    pub async fn ensure_owned_secret(
        &self,
        namespace: &str,
        name: &str,
        owner: &str,
        create: bool,
        generate: impl FnOnce() -> BTreeMap<String, String>,
    ) -> Result<Ensured, Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client(), namespace);
        match secrets.get_opt(name).await? {
            Some(found) => return kept_if_owned(&found, namespace, name, owner),
            None if !create => return Err(Error::Missing(format!("Secret {namespace}/{name}"))),
            None => {}
        }
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                labels: Some(BTreeMap::from([(MANAGED_BY.into(), PROVIDER.into()), (INSTANCE.into(), owner.into())])),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(generate().into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
            ..Default::default()
        };
        let mut created = secrets.create(&PostParams::default(), &secret).await;
        // The namespace does not exist yet: made here, as helm's --create-namespace would.
        if matches!(&created, Err(kube::Error::Api(status)) if status.code == 404) {
            let namespaces: Api<Namespace> = Api::all(self.client());
            let namespace_object = Namespace {
                metadata: ObjectMeta { name: Some(namespace.into()), ..Default::default() },
                ..Default::default()
            };
            match namespaces.create(&PostParams::default(), &namespace_object).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            created = secrets.create(&PostParams::default(), &secret).await;
        }
        match created {
            Ok(_) => Ok(Ensured::Created),
            // Made meanwhile (a retried apply): whose it is decides, as above.
            Err(kube::Error::Api(status)) if status.code == 409 => match secrets.get_opt(name).await? {
                Some(found) => kept_if_owned(&found, namespace, name, owner),
                None => Err(foreign(namespace, name, owner)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a Secret of this name could be made or kept for `owner`: absent, or this
    /// provider's for that owner. Anybody else's is refused.
    pub async fn refuse_foreign_secret(&self, namespace: &str, name: &str, owner: &str) -> Result<(), Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client(), namespace);
        match secrets.get_opt(name).await? {
            Some(found) => kept_if_owned(&found, namespace, name, owner).map(drop),
            None => Ok(()),
        }
    }

    /// Deletes a Secret this provider made for `owner`; `false` when it was gone already. Any
    /// other Secret of that name is refused.
    pub async fn delete_owned_secret(&self, namespace: &str, name: &str, owner: &str) -> Result<bool, Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client(), namespace);
        match secrets.get_opt(name).await? {
            None => Ok(false),
            Some(found) if owned_by(&found, owner) => match secrets.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
                Err(e) => Err(e.into()),
            },
            Some(_) => Err(foreign(namespace, name, owner)),
        }
    }

    /// The data of a Secret, as text.
    pub async fn secret_data(&self, namespace: &str, name: &str) -> Result<BTreeMap<String, String>, Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client(), namespace);
        let secret = secrets.get(name).await?;
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(key, ByteString(bytes))| match String::from_utf8(bytes) {
                Ok(text) => Ok((key, text)),
                Err(_) => Err(Error::Unexpected(format!("key {key} of Secret {namespace}/{name} is not text"))),
            })
            .collect()
    }
}
