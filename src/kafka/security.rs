//! Who may use a cluster and how much: SCRAM credentials, ACL bindings and client quotas, as the
//! admin protocol manages them. A password reaches the brokers only as the salted hash SCRAM
//! stores, made here with a fresh salt; nothing here returns one.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterUserScramCredentialsRequest, ApiKey, CreateAclsRequest, DeleteAclsRequest,
    DescribeAclsRequest, DescribeClientQuotasRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};

use super::Error;
use super::admin::Admin;
use super::config::{SaslMechanism, Secret};
use super::sasl::salted_password;
use super::wire::{first_refusal, str_bytes};

/// A closed set of values Kafka sends as codes, each named as Kafka's own tools name it.
macro_rules! wire_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// Any case, as Kafka's tools accept them.
            pub fn parse(text: &str) -> Option<$name> {
                [$($name::$variant),+].into_iter().find(|v| v.name().eq_ignore_ascii_case(text))
            }

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            fn code(self) -> i8 {
                match self { $($name::$variant => $code),+ }
            }

            fn from_code(code: i8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_names!(
    /// What an ACL protects.
    AclResourceType {
        Topic = 2 "Topic",
        Group = 3 "Group",
        Cluster = 4 "Cluster",
        TransactionalId = 5 "TransactionalID",
        DelegationToken = 6 "DelegationToken",
        User = 7 "User",
    }
);

wire_names!(
    /// How an ACL's resource name matches: the name itself, or every name it begins.
    AclPatternType { Literal = 3 "Literal", Prefixed = 4 "Prefixed" }
);

wire_names!(
    AclOperation {
        All = 2 "All",
        Read = 3 "Read",
        Write = 4 "Write",
        Create = 5 "Create",
        Delete = 6 "Delete",
        Alter = 7 "Alter",
        Describe = 8 "Describe",
        ClusterAction = 9 "ClusterAction",
        DescribeConfigs = 10 "DescribeConfigs",
        AlterConfigs = 11 "AlterConfigs",
        IdempotentWrite = 12 "IdempotentWrite",
        CreateTokens = 13 "CreateTokens",
        DescribeTokens = 14 "DescribeTokens",
    }
);

wire_names!(AclPermission { Deny = 2 "Deny", Allow = 3 "Allow" });

/// The code every filter field of Kafka's ACL requests reads as "any".
const ANY: i8 = 1;

/// How a quota describe matches an entity's name: this one, or the type's default entity.
const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;

/// One ACL: `principal`, connecting from `host` (`*` for any), may or may not do `operation`
/// on the resources the name and pattern select.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

/// Which bindings a describe or a delete takes: a field left `None` matches any value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<AclResourceType>,
    pub resource_name: Option<String>,
    pub pattern_type: Option<AclPatternType>,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<AclPermission>,
}

impl From<&AclBinding> for AclFilter {
    /// The filter that takes exactly this binding.
    fn from(b: &AclBinding) -> AclFilter {
        AclFilter {
            resource_type: Some(b.resource_type),
            resource_name: Some(b.resource_name.clone()),
            pattern_type: Some(b.pattern_type),
            principal: Some(b.principal.clone()),
            host: Some(b.host.clone()),
            operation: Some(b.operation),
            permission: Some(b.permission),
        }
    }
}

/// A SCRAM credential as the brokers describe it: the mechanism and its iteration count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScramCredential {
    pub mechanism: SaslMechanism,
    pub iterations: i32,
}

/// Who a client quota applies to: entity types (`user`, `client-id`, `ip`) each with a name,
/// or `None` for that type's default entity.
pub type QuotaEntity = BTreeMap<String, Option<String>>;

fn scram_code(mechanism: SaslMechanism) -> Option<i8> {
    match mechanism {
        SaslMechanism::ScramSha256 => Some(1),
        SaslMechanism::ScramSha512 => Some(2),
        SaslMechanism::Plain => None,
    }
}

fn scram_mechanism(code: i8) -> Option<SaslMechanism> {
    [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512].into_iter().find(|m| scram_code(*m) == Some(code))
}

fn optional(text: Option<&String>) -> Option<StrBytes> {
    text.map(|t| str_bytes(t))
}

impl Admin {
    /// Creates the bindings; one that exists already is no error (Kafka keeps one of each).
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Result<(), Error> {
        let creations = bindings
            .iter()
            .map(|b| {
                AclCreation::default()
                    .with_resource_type(b.resource_type.code())
                    .with_resource_name(str_bytes(&b.resource_name))
                    .with_resource_pattern_type(b.pattern_type.code())
                    .with_principal(str_bytes(&b.principal))
                    .with_host(str_bytes(&b.host))
                    .with_operation(b.operation.code())
                    .with_permission_type(b.permission.code())
            })
            .collect();
        let request = CreateAclsRequest::default().with_creations(creations);
        self.send_retried("creating ACLs", &request, 3, |response| {
            first_refusal("creating ACLs", response.results.iter().map(|r| (r.error_code, r.error_message.as_deref())))
        })
        .await
        .map(drop)
    }

    /// The bindings the filter takes. A broker learns of a change made through another within
    /// moments, not at once.
    pub async fn acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>, Error> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type.map_or(ANY, AclResourceType::code))
            .with_resource_name_filter(optional(filter.resource_name.as_ref()))
            .with_pattern_type_filter(filter.pattern_type.map_or(ANY, AclPatternType::code))
            .with_principal_filter(optional(filter.principal.as_ref()))
            .with_host_filter(optional(filter.host.as_ref()))
            .with_operation(filter.operation.map_or(ANY, AclOperation::code))
            .with_permission_type(filter.permission.map_or(ANY, AclPermission::code));
        let response = self
            .send_retried("describing ACLs", &request, 3, |response| {
                first_refusal("describing ACLs", [(response.error_code, response.error_message.as_deref())])
            })
            .await?;
        let mut bindings = Vec::new();
        for resource in &response.resources {
            let (Some(resource_type), Some(pattern_type)) =
                (AclResourceType::from_code(resource.resource_type), AclPatternType::from_code(resource.pattern_type))
            else {
                continue;
            };
            for acl in &resource.acls {
                let (Some(operation), Some(permission)) =
                    (AclOperation::from_code(acl.operation), AclPermission::from_code(acl.permission_type))
                else {
                    continue;
                };
                bindings.push(AclBinding {
                    resource_type,
                    resource_name: resource.resource_name.to_string(),
                    pattern_type,
                    principal: acl.principal.to_string(),
                    host: acl.host.to_string(),
                    operation,
                    permission,
                });
            }
        }
        bindings.sort();
        Ok(bindings)
    }

    /// Deletes every binding the filters take; how many went. Deleting nothing is no error.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<usize, Error> {
        let filters = filters
            .iter()
            .map(|f| {
                DeleteAclsFilter::default()
                    .with_resource_type_filter(f.resource_type.map_or(ANY, AclResourceType::code))
                    .with_resource_name_filter(optional(f.resource_name.as_ref()))
                    .with_pattern_type_filter(f.pattern_type.map_or(ANY, AclPatternType::code))
                    .with_principal_filter(optional(f.principal.as_ref()))
                    .with_host_filter(optional(f.host.as_ref()))
                    .with_operation(f.operation.map_or(ANY, AclOperation::code))
                    .with_permission_type(f.permission.map_or(ANY, AclPermission::code))
            })
            .collect();
        let request = DeleteAclsRequest::default().with_filters(filters);
        let response = self
            .send_retried("deleting ACLs", &request, 3, |response| {
                let results = response.filter_results.iter().map(|r| (r.error_code, r.error_message.as_deref()));
                first_refusal("deleting ACLs", results)
            })
            .await?;
        Ok(response.filter_results.iter().map(|r| r.matching_acls.len()).sum())
    }

    /// The SCRAM credentials of these users (of every user with `None`); a user without any is
    /// left out.
    pub async fn scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<BTreeMap<String, Vec<ScramCredential>>, Error> {
        let names = users.map(|users| users.iter().map(|u| UserName::default().with_name(str_bytes(u))).collect());
        let request = DescribeUserScramCredentialsRequest::default().with_users(names);
        let operation = "describing SCRAM credentials";
        let response = self
            .send_retried(operation, &request, 0, |response| {
                first_refusal(operation, [(response.error_code, response.error_message.as_deref())])
            })
            .await?;
        let mut credentials = BTreeMap::new();
        for result in response.results {
            let user = result.user.to_string();
            match ResponseError::try_from_code(result.error_code) {
                None => {}
                Some(ResponseError::ResourceNotFound) => continue,
                Some(_) => {
                    let operation = format!("describing the SCRAM credentials of {user}");
                    return Err(Error::broker(operation, result.error_code, result.error_message.as_deref()));
                }
            }
            let infos = result.credential_infos.iter();
            let known = infos.filter_map(|c| {
                Some(ScramCredential { mechanism: scram_mechanism(c.mechanism)?, iterations: c.iterations })
            });
            credentials.insert(user, known.collect());
        }
        Ok(credentials)
    }

    /// Sets a user's password for one SCRAM mechanism (Kafka takes 4096 to 16384 iterations).
    pub async fn set_scram_credential(
        &self,
        user: &str,
        mechanism: SaslMechanism,
        iterations: u32,
        password: &Secret,
    ) -> Result<(), Error> {
        let (Some(code), Some((salt, salted))) =
            (scram_code(mechanism), salted_password(mechanism, password, iterations))
        else {
            return Err(Error::Protocol(format!("{} is not a SCRAM mechanism", mechanism.name())));
        };
        let upsertion = ScramCredentialUpsertion::default()
            .with_name(str_bytes(user))
            .with_mechanism(code)
            .with_iterations(iterations.try_into().unwrap_or(i32::MAX))
            .with_salt(Bytes::from(salt))
            .with_salted_password(Bytes::from(salted));
        let request = AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsertion]);
        let operation = format!("setting the {} credential of {user}", mechanism.name());
        self.send_retried(&operation, &request, 0, |response| {
            first_refusal(&operation, response.results.iter().map(|r| (r.error_code, r.error_message.as_deref())))
        })
        .await
        .map(drop)
    }

    /// Removes a user's credential for one SCRAM mechanism; one that is not there is no error.
    pub async fn delete_scram_credential(&self, user: &str, mechanism: SaslMechanism) -> Result<(), Error> {
        let Some(code) = scram_code(mechanism) else { return Ok(()) };
        let deletion = ScramCredentialDeletion::default().with_name(str_bytes(user)).with_mechanism(code);
        let request = AlterUserScramCredentialsRequest::default().with_deletions(vec![deletion]);
        let operation = format!("deleting the {} credential of {user}", mechanism.name());
        self.send_retried(&operation, &request, 0, |response| {
            let refusals = response
                .results
                .iter()
                .filter(|r| ResponseError::try_from_code(r.error_code) != Some(ResponseError::ResourceNotFound));
            first_refusal(&operation, refusals.map(|r| (r.error_code, r.error_message.as_deref())))
        })
        .await
        .map(drop)
    }

    /// The quota values set on exactly this entity, by key (`producer_byte_rate`, ...).
    pub async fn quotas(&self, entity: &QuotaEntity) -> Result<BTreeMap<String, f64>, Error> {
        let components = entity
            .iter()
            .map(|(kind, name)| {
                ComponentData::default()
                    .with_entity_type(str_bytes(kind))
                    .with_match_type(if name.is_some() { MATCH_EXACT } else { MATCH_DEFAULT })
                    .with_match(optional(name.as_ref()))
            })
            .collect();
        let request = DescribeClientQuotasRequest::default().with_components(components).with_strict(true);
        let operation = "describing client quotas";
        let response = self
            .send_retried(operation, &request, 1, |response| {
                first_refusal(operation, [(response.error_code, response.error_message.as_deref())])
            })
            .await?;
        let entry = response.entries.unwrap_or_default().into_iter().find(|entry| {
            let described: QuotaEntity = entry
                .entity
                .iter()
                .map(|e| (e.entity_type.to_string(), e.entity_name.as_ref().map(|n| n.to_string())))
                .collect();
            described == *entity
        });
        Ok(entry.map(|e| e.values.into_iter().map(|v| (v.key.to_string(), v.value)).collect()).unwrap_or_default())
    }

    /// Sets the values in `set` on the entity and removes the keys in `remove`, in one request.
    pub async fn alter_quotas(
        &self,
        entity: &QuotaEntity,
        set: &BTreeMap<String, f64>,
        remove: &[String],
        validate_only: bool,
    ) -> Result<(), Error> {
        let ops = set
            .iter()
            .map(|(key, value)| OpData::default().with_key(str_bytes(key)).with_value(*value))
            .chain(remove.iter().map(|key| OpData::default().with_key(str_bytes(key)).with_remove(true)))
            .collect();
        let entity_data = entity
            .iter()
            .map(|(kind, name)| {
                EntityData::default().with_entity_type(str_bytes(kind)).with_entity_name(optional(name.as_ref()))
            })
            .collect();
        let request = AlterClientQuotasRequest::default()
            .with_entries(vec![EntryData::default().with_entity(entity_data).with_ops(ops)])
            .with_validate_only(validate_only);
        let operation = "altering client quotas";
        self.send_retried(operation, &request, 1, |response| {
            first_refusal(operation, response.entries.iter().map(|e| (e.error_code, e.error_message.as_deref())))
        })
        .await
        .map(drop)
    }

    /// Sends to the broker that handles the request, again while the answer is a retriable
    /// failure and the request budget lasts; `refusal` reads the answer's errors.
    async fn send_retried<R: Request>(
        &self,
        operation: &str,
        request: &R,
        version: i16,
        refusal: impl Fn(&R::Response) -> Result<(), Error>,
    ) -> Result<R::Response, Error> {
        let cluster = self.cluster();
        // In ZooKeeper mode only the controller changes credentials.
        let to_controller = R::KEY == ApiKey::AlterUserScramCredentials as i16;
        cluster
            .retry(operation, cluster.config.request_timeout, || async {
                let response = match to_controller {
                    true => cluster.send_to_controller(request, version).await?,
                    false => cluster.send_any(request, version).await?,
                };
                refusal(&response)?;
                Ok(response)
            })
            .await
    }
}
