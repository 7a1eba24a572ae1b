//! What the protocol layer asks of a provider, in decoded values. The gRPC service turns wire
//! messages into these calls and back; it never knows a resource by name.

use std::collections::BTreeMap;

use super::diag::{AttrPath, Diagnostics};
use super::schema::Schema;
use super::value::Value;

pub struct ReadRequest {
    pub type_name: String,
    pub current_state: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ReadResponse {
    /// `Value::Null` when the object is gone, which removes it from state.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct PlanRequest {
    pub type_name: String,
    /// `Value::Null` on create.
    pub prior_state: Value,
    /// `Value::Null` on destroy.
    pub proposed_new_state: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
}

#[derive(Default)]
pub struct PlanResponse {
    pub planned_state: Value,
    pub requires_replace: Vec<AttrPath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ApplyRequest {
    pub type_name: String,
    pub prior_state: Value,
    pub planned_state: Value,
    pub config: Value,
    pub planned_private: Vec<u8>,
}

#[derive(Default)]
pub struct ApplyResponse {
    /// What exists after the apply, also when it failed part-way: Terraform records it.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ImportedResource {
    pub type_name: String,
    pub state: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ImportResponse {
    pub imported: Vec<ImportedResource>,
    pub diagnostics: Diagnostics,
}

impl ImportResponse {
    /// The usual answer: one object, of the type asked for.
    pub fn single(type_name: &str, state: Value) -> ImportResponse {
        let imported = ImportedResource { type_name: type_name.to_string(), state, private: Vec::new() };
        ImportResponse { imported: vec![imported], diagnostics: Diagnostics::default() }
    }
}

/// A resource a `moved` block brings from another resource type, perhaps another provider's.
pub struct MoveRequest {
    /// The source provider's address, as `registry.terraform.io/mongey/kafka`.
    pub source_provider: String,
    pub source_type: String,
    pub source_version: i64,
    /// The source's state as its provider wrote it: no schema of this provider's describes it.
    pub source_state: serde_json::Value,
    pub target_type: String,
}

impl MoveRequest {
    /// Whether the source is `type_name` of the provider `namespace/name` (as `mongey/kafka`),
    /// whatever registry it came from.
    pub fn comes_from(&self, provider: &str, type_name: &str) -> bool {
        let address = self.source_provider.to_ascii_lowercase();
        self.source_type == type_name && address.ends_with(&format!("/{}", provider.to_ascii_lowercase()))
    }

    /// A string attribute of the source's state.
    pub fn source_text(&self, attribute: &str) -> Option<&str> {
        self.source_state[attribute].as_str()
    }
}

#[tonic::async_trait]
pub trait ProviderHandler: Send + Sync + 'static {
    fn provider_schema(&self) -> Schema;
    fn resource_schemas(&self) -> BTreeMap<String, Schema>;
    async fn validate_provider_config(&self, config: Value) -> Diagnostics;
    async fn configure_provider(&self, config: Value, terraform_version: String) -> Diagnostics;
    async fn validate_resource_config(&self, type_name: &str, config: Value) -> Diagnostics;
    /// Brings stored state written by an older schema version to the current one; the server
    /// passes a state of the current version through without asking.
    async fn upgrade_resource_state(&self, type_name: &str, version: i64, state: Value) -> (Value, Diagnostics);
    async fn read_resource(&self, request: ReadRequest) -> ReadResponse;
    async fn plan_resource_change(&self, request: PlanRequest) -> PlanResponse;
    async fn apply_resource_change(&self, request: ApplyRequest) -> ApplyResponse;
    async fn import_resource_state(&self, type_name: &str, id: &str) -> ImportResponse;
    /// The target resource's state for a moved one: as after an import, a refresh follows.
    async fn move_resource_state(&self, request: MoveRequest) -> (Value, Diagnostics);
    /// Terraform asks in-flight operations to wrap up (Ctrl-C); the server keeps serving.
    async fn stop(&self);
    fn data_source_schemas(&self) -> BTreeMap<String, Schema> {
        BTreeMap::new()
    }
    async fn validate_data_source_config(&self, _type_name: &str, _config: Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// The data source's state: its configuration with every computed attribute filled in.
    async fn read_data_source(&self, type_name: &str, config: Value) -> (Value, Diagnostics);
}
