//! The provider service Terraform calls: wire messages in, decoded values to the
//! [`ProviderHandler`] and back. It applies what holds for every provider once: values decoded
//! against the schemas' types, unknown resource types refused, a state of the current schema
//! version passed through without asking the handler.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::diag::{AttrPath, Diagnostic, Diagnostics};
use super::drain::InFlight;
use super::handler::*;
use super::proto::provider_server::Provider;
use super::proto::{
    self, apply_resource_change, configure_provider, get_functions, get_metadata, get_provider_schema,
    get_resource_identity_schemas, import_resource_state, move_resource_state, plan_resource_change, read_data_source,
    read_resource, stop_provider, upgrade_resource_state, validate_data_resource_config, validate_provider_config,
    validate_resource_config,
};
use super::schema::Schema;
use super::value::{Type, Value, decode_json, decode_msgpack, encode_msgpack};

/// The schemas and value types, computed once: every call needs them.
pub(super) struct ProviderService<H> {
    handler: Arc<H>,
    calls: Arc<InFlight>,
    provider_schema: Schema,
    resource_schemas: BTreeMap<String, Schema>,
    resource_types: BTreeMap<String, Type>,
    data_source_schemas: BTreeMap<String, Schema>,
    data_source_types: BTreeMap<String, Type>,
    provider_type: Type,
}

impl<H: ProviderHandler> ProviderService<H> {
    pub(super) fn new(handler: Arc<H>, calls: Arc<InFlight>) -> Self {
        let provider_schema = handler.provider_schema();
        let resource_schemas = handler.resource_schemas();
        let resource_types = resource_schemas.iter().map(|(k, s)| (k.clone(), s.value_type())).collect();
        let data_source_schemas = handler.data_source_schemas();
        let data_source_types = data_source_schemas.iter().map(|(k, s)| (k.clone(), s.value_type())).collect();
        ProviderService {
            data_source_schemas,
            data_source_types,
            provider_type: provider_schema.value_type(),
            provider_schema,
            resource_schemas,
            resource_types,
            handler,
            calls,
        }
    }

    /// The resource type of a call and its values decoded against it, each named for the error.
    fn decode_resource<const N: usize>(
        &self,
        type_name: &str,
        values: [(Option<&proto::DynamicValue>, &str); N],
    ) -> Result<(&Type, [Value; N]), Diagnostics> {
        let ty = self.resource_type(type_name)?;
        let decoded = values.map(|(value, what)| decode(value, ty, what));
        if let Some(Err(diagnostics)) = decoded.iter().find(|d| d.is_err()) {
            return Err(diagnostics.clone());
        }
        Ok((ty, decoded.map(Result::unwrap_or_default)))
    }

    /// A plan or state as Terraform takes it: without write-only values, which it refuses to
    /// keep, whatever the resource returned.
    fn without_write_only(&self, type_name: &str, value: Value) -> Value {
        let (Some(schema), Value::Object(mut object)) = (self.resource_schemas.get(type_name), value.clone()) else {
            return value;
        };
        for name in schema.block.write_only() {
            object.insert(name.to_string(), Value::Null);
        }
        Value::Object(object)
    }

    /// Write-only values in the configuration of a Terraform that cannot take them (before 1.11).
    fn write_only_refused(&self, type_name: &str, config: &Value) -> Diagnostics {
        let Some(schema) = self.resource_schemas.get(type_name) else { return Diagnostics::default() };
        schema
            .block
            .write_only()
            .filter(|name| !config.attr(name).is_null())
            .map(|name| {
                Diagnostic::error(
                    "Write-only attribute needs Terraform 1.11",
                    format!("{name} is write-only: Terraform 1.11 or later sends it without keeping it in state."),
                )
                .at(AttrPath::root(name))
            })
            .collect()
    }

    fn data_source_type(&self, type_name: &str) -> Result<&Type, Diagnostics> {
        self.data_source_types.get(type_name).ok_or_else(|| {
            let offered = self.data_source_types.keys().cloned().collect::<Vec<_>>().join(", ");
            Diagnostic::error(format!("Unknown data source {type_name:?}"), format!("This provider offers {offered}."))
                .into()
        })
    }

    fn resource_type(&self, type_name: &str) -> Result<&Type, Diagnostics> {
        self.resource_types.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                format!("Unknown resource type {type_name:?}"),
                format!("This provider offers {}.", self.resource_types.keys().cloned().collect::<Vec<_>>().join(", ")),
            )
            .into()
        })
    }
}

fn decode(value: Option<&proto::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let Some(value) = value else { return Ok(Value::Null) };
    let decoded = if !value.msgpack.is_empty() {
        decode_msgpack(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        decode_json(&value.json, ty)
    } else {
        Ok(Value::Null)
    };
    decoded.map_err(|e| {
        Diagnostic::error(
            format!("Invalid {what} from Terraform"),
            format!("The provider could not decode the {what}: {e}."),
        )
        .into()
    })
}

fn encode(value: &Value, ty: &Type, diagnostics: &mut Diagnostics) -> Option<proto::DynamicValue> {
    match encode_msgpack(value, ty) {
        Ok(msgpack) => Some(proto::DynamicValue { msgpack, json: Vec::new() }),
        Err(e) => {
            diagnostics.push(Diagnostic::error(
                "Provider produced an invalid value",
                format!("This is a bug in the provider, please report it: {e}."),
            ));
            None
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// Ends an RPC with the decoding diagnostics; responses differ in their other fields, which
/// stay empty.
macro_rules! decode_or_return {
    ($expr:expr, $response:ty) => {
        match $expr {
            Ok(v) => v,
            Err(diagnostics) => {
                type Reply = $response;
                #[allow(clippy::needless_update)]
                let reply = Reply { diagnostics: Diagnostics::to_proto(&diagnostics), ..Default::default() };
                return Ok(Response::new(reply));
            }
        }
    };
}

#[tonic::async_trait]
impl<H: ProviderHandler> Provider for ProviderService<H> {
    async fn get_metadata(&self, _: Request<get_metadata::Request>) -> Reply<get_metadata::Response> {
        Ok(Response::new(get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .resource_schemas
                .keys()
                .map(|k| get_metadata::ResourceMetadata { type_name: k.clone() })
                .collect(),
            data_sources: self
                .data_source_schemas
                .keys()
                .map(|k| get_metadata::DataSourceMetadata { type_name: k.clone() })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<get_provider_schema::Request>,
    ) -> Reply<get_provider_schema::Response> {
        Ok(Response::new(get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self.resource_schemas.iter().map(|(k, s)| (k.clone(), s.to_proto())).collect(),
            data_source_schemas: self.data_source_schemas.iter().map(|(k, s)| (k.clone(), s.to_proto())).collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        request: Request<validate_provider_config::Request>,
    ) -> Reply<validate_provider_config::Response> {
        let request = request.into_inner();
        let config = decode_or_return!(
            decode(request.config.as_ref(), &self.provider_type, "provider configuration"),
            validate_provider_config::Response
        );
        let diagnostics = self.handler.validate_provider_config(config).await;
        Ok(Response::new(validate_provider_config::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<validate_resource_config::Request>,
    ) -> Reply<validate_resource_config::Response> {
        let request = request.into_inner();
        let (_, [config]) = decode_or_return!(
            self.decode_resource(&request.type_name, [(request.config.as_ref(), "resource configuration")]),
            validate_resource_config::Response
        );
        let write_only_allowed = request.client_capabilities.is_some_and(|c| c.write_only_attributes_allowed);
        let refused = if write_only_allowed {
            Diagnostics::default()
        } else {
            self.write_only_refused(&request.type_name, &config)
        };
        let mut diagnostics = self.handler.validate_resource_config(&request.type_name, config).await;
        diagnostics.extend(refused);
        Ok(Response::new(validate_resource_config::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<validate_data_resource_config::Request>,
    ) -> Reply<validate_data_resource_config::Response> {
        let request = request.into_inner();
        let ty = decode_or_return!(self.data_source_type(&request.type_name), validate_data_resource_config::Response);
        let config = decode_or_return!(
            decode(request.config.as_ref(), ty, "data source configuration"),
            validate_data_resource_config::Response
        );
        let diagnostics = self.handler.validate_data_source_config(&request.type_name, config).await;
        Ok(Response::new(validate_data_resource_config::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<upgrade_resource_state::Request>,
    ) -> Reply<upgrade_resource_state::Response> {
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.type_name), upgrade_resource_state::Response);
        let raw = request.raw_state.unwrap_or_default();
        if raw.json.is_empty() && !raw.flatmap.is_empty() {
            let flatmap = Diagnostic::error(
                "Unsupported state format",
                "The stored state is in the pre-0.12 flatmap format, which this provider never wrote.",
            );
            let diagnostics = Diagnostics::from(flatmap).to_proto();
            return Ok(Response::new(upgrade_resource_state::Response { diagnostics, ..Default::default() }));
        }
        let state = decode_or_return!(
            decode_json(&raw.json, ty).map_err(|e| Diagnostics::from(Diagnostic::error(
                "Invalid stored state",
                format!("The state of this resource could not be read: {e}.")
            ))),
            upgrade_resource_state::Response
        );
        // The usual case, a state of the current version, never reaches the handler.
        let current = self.resource_schemas.get(&request.type_name).map_or(0, |s| s.version);
        let (upgraded, mut diagnostics) = if request.version == current {
            (state, Diagnostics::default())
        } else if request.version > current {
            let newer = Diagnostic::error(
                "State written by a newer provider",
                format!(
                    "This {} state has schema version {}; this provider version writes {current}. Use the provider \
                     version that wrote it, or a newer one.",
                    request.type_name, request.version
                ),
            );
            (Value::Null, newer.into())
        } else {
            self.handler.upgrade_resource_state(&request.type_name, request.version, state).await
        };
        let upgraded_state = encode(&upgraded, ty, &mut diagnostics);
        Ok(Response::new(upgrade_resource_state::Response { upgraded_state, diagnostics: diagnostics.to_proto() }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<get_resource_identity_schemas::Request>,
    ) -> Reply<get_resource_identity_schemas::Response> {
        Ok(Response::new(get_resource_identity_schemas::Response::default()))
    }

    async fn configure_provider(
        &self,
        request: Request<configure_provider::Request>,
    ) -> Reply<configure_provider::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let config = decode_or_return!(
            decode(request.config.as_ref(), &self.provider_type, "provider configuration"),
            configure_provider::Response
        );
        let diagnostics = self.handler.configure_provider(config, request.terraform_version).await;
        Ok(Response::new(configure_provider::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn read_resource(&self, request: Request<read_resource::Request>) -> Reply<read_resource::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let (ty, [current_state]) = decode_or_return!(
            self.decode_resource(&request.type_name, [(request.current_state.as_ref(), "current state")]),
            read_resource::Response
        );
        let type_name = request.type_name.clone();
        let response = self
            .handler
            .read_resource(ReadRequest { type_name: request.type_name, current_state, private: request.private })
            .await;
        let mut diagnostics = response.diagnostics;
        let new_state = encode(&self.without_write_only(&type_name, response.new_state), ty, &mut diagnostics);
        Ok(Response::new(read_resource::Response {
            new_state,
            diagnostics: diagnostics.to_proto(),
            private: response.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<plan_resource_change::Request>,
    ) -> Reply<plan_resource_change::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let values = [
            (request.prior_state.as_ref(), "prior state"),
            (request.proposed_new_state.as_ref(), "proposed new state"),
            (request.config.as_ref(), "configuration"),
        ];
        let (ty, [prior_state, proposed_new_state, config]) =
            decode_or_return!(self.decode_resource(&request.type_name, values), plan_resource_change::Response);
        let type_name = request.type_name.clone();
        let response = self
            .handler
            .plan_resource_change(PlanRequest {
                type_name: request.type_name,
                prior_state,
                proposed_new_state,
                config,
                prior_private: request.prior_private,
            })
            .await;
        let mut diagnostics = response.diagnostics;
        let planned_state = encode(&self.without_write_only(&type_name, response.planned_state), ty, &mut diagnostics);
        Ok(Response::new(plan_resource_change::Response {
            planned_state,
            requires_replace: response.requires_replace.iter().map(|p| p.to_proto()).collect(),
            planned_private: response.planned_private,
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<apply_resource_change::Request>,
    ) -> Reply<apply_resource_change::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let values = [
            (request.prior_state.as_ref(), "prior state"),
            (request.planned_state.as_ref(), "planned state"),
            (request.config.as_ref(), "configuration"),
        ];
        let (ty, [prior_state, planned_state, config]) =
            decode_or_return!(self.decode_resource(&request.type_name, values), apply_resource_change::Response);
        let type_name = request.type_name.clone();
        let response = self
            .handler
            .apply_resource_change(ApplyRequest {
                type_name: request.type_name,
                prior_state,
                planned_state,
                config,
                planned_private: request.planned_private,
            })
            .await;
        let mut diagnostics = response.diagnostics;
        let new_state = encode(&self.without_write_only(&type_name, response.new_state), ty, &mut diagnostics);
        Ok(Response::new(apply_resource_change::Response {
            new_state,
            private: response.private,
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<import_resource_state::Request>,
    ) -> Reply<import_resource_state::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        decode_or_return!(self.resource_type(&request.type_name), import_resource_state::Response);
        let response = self.handler.import_resource_state(&request.type_name, &request.id).await;
        let mut diagnostics = response.diagnostics;
        let mut imported_resources = Vec::new();
        for resource in response.imported {
            let Ok(ty) = self.resource_type(&resource.type_name) else { continue };
            let state = self.without_write_only(&resource.type_name, resource.state);
            if let Some(state) = encode(&state, ty, &mut diagnostics) {
                imported_resources.push(import_resource_state::ImportedResource {
                    type_name: resource.type_name,
                    state: Some(state),
                    private: resource.private,
                    identity: None,
                });
            }
        }
        Ok(Response::new(import_resource_state::Response {
            imported_resources,
            diagnostics: diagnostics.to_proto(),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        request: Request<move_resource_state::Request>,
    ) -> Reply<move_resource_state::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.target_type_name), move_resource_state::Response);
        let raw = request.source_state.unwrap_or_default();
        let source_state = decode_or_return!(
            serde_json::from_slice(&raw.json).map_err(|e| Diagnostics::from(Diagnostic::error(
                "Invalid source state",
                format!("The state of the resource to move is not JSON: {e}.")
            ))),
            move_resource_state::Response
        );
        let move_request = MoveRequest {
            source_provider: request.source_provider_address,
            source_type: request.source_type_name,
            source_version: request.source_schema_version,
            source_state,
            target_type: request.target_type_name.clone(),
        };
        let (state, mut diagnostics) = self.handler.move_resource_state(move_request).await;
        let target_state = match diagnostics.has_errors() {
            true => None,
            false => encode(&self.without_write_only(&request.target_type_name, state), ty, &mut diagnostics),
        };
        Ok(Response::new(move_resource_state::Response {
            target_state,
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn read_data_source(&self, request: Request<read_data_source::Request>) -> Reply<read_data_source::Response> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let ty = decode_or_return!(self.data_source_type(&request.type_name), read_data_source::Response);
        let config = decode_or_return!(
            decode(request.config.as_ref(), ty, "data source configuration"),
            read_data_source::Response
        );
        let (state, mut diagnostics) = self.handler.read_data_source(&request.type_name, config).await;
        let state = if diagnostics.has_errors() { None } else { encode(&state, ty, &mut diagnostics) };
        Ok(Response::new(read_data_source::Response { state, diagnostics: diagnostics.to_proto(), deferred: None }))
    }

    async fn get_functions(&self, _: Request<get_functions::Request>) -> Reply<get_functions::Response> {
        Ok(Response::new(get_functions::Response::default()))
    }

    async fn stop_provider(&self, _: Request<stop_provider::Request>) -> Reply<stop_provider::Response> {
        tracing::info!("Terraform asked the provider to stop in-flight operations");
        self.handler.stop().await;
        Ok(Response::new(stop_provider::Response::default()))
    }
}

fn capabilities() -> proto::ServerCapabilities {
    proto::ServerCapabilities {
        // Destroy plans come to the provider, so deletion protection can refuse them at plan.
        plan_destroy: true,
        get_provider_schema_optional: false,
        // `moved` blocks from the providers people use today (see the resources' `move_state`).
        move_resource_state: true,
    }
}

#[cfg(test)]
mod tests;
