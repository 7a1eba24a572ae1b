//! The provider service in process, over a real gRPC connection, against a fake handler: what
//! the protocol layer does for every provider (decoding, refusals, the state-version shortcut)
//! is tested here without Terraform, Kubernetes or Kafka.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tonic::transport::Channel;

use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::handler::*;
use crate::tfplugin::proto::provider_client::ProviderClient;
use crate::tfplugin::proto::{self, DynamicValue};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value, decode_msgpack, encode_msgpack};

const THING: &str = "fake_thing";

/// Answers every call the same way and records which calls reached it.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn record(&self, call: impl Into<String>) {
        self.calls.lock().unwrap().push(call.into());
    }
}

fn thing_schema() -> Schema {
    Schema {
        version: 2,
        block: Block {
            attributes: vec![
                Attribute::computed("id", Type::String, ""),
                Attribute::required("name", Type::String, ""),
                Attribute::optional("size", Type::Number, ""),
                Attribute::optional("secret", Type::String, "").sensitive().write_only(),
            ],
            ..Default::default()
        },
    }
}

fn thing(id: Value, name: &str, size: Value) -> Value {
    Value::Object(BTreeMap::from([
        ("id".to_string(), id),
        ("name".to_string(), Value::string(name)),
        ("size".to_string(), size),
        ("secret".to_string(), Value::Null),
    ]))
}

const LOOKUP: &str = "fake_lookup";

fn lookup_schema() -> Schema {
    let attributes =
        vec![Attribute::required("name", Type::String, ""), Attribute::computed("value", Type::String, "")];
    Schema { version: 0, block: Block { attributes, ..Default::default() } }
}

#[tonic::async_trait]
impl ProviderHandler for Fake {
    fn provider_schema(&self) -> Schema {
        Schema::default()
    }

    fn resource_schemas(&self) -> BTreeMap<String, Schema> {
        BTreeMap::from([(THING.to_string(), thing_schema())])
    }

    async fn validate_provider_config(&self, _: Value) -> Diagnostics {
        Diagnostics::default()
    }

    async fn configure_provider(&self, _: Value, _: String) -> Diagnostics {
        Diagnostics::default()
    }

    async fn validate_resource_config(&self, _: &str, config: Value) -> Diagnostics {
        self.record("validate");
        match config.attr("name").as_str() {
            Some("bad") => Diagnostic::error("Bad name", "").at(AttrPath::root("name")).into(),
            _ => Diagnostics::default(),
        }
    }

    async fn upgrade_resource_state(&self, _: &str, version: i64, state: Value) -> (Value, Diagnostics) {
        self.record(format!("upgrade {version}"));
        let Value::Object(mut state) = state else { return (Value::Null, Diagnostics::default()) };
        state.insert("size".into(), Value::int(version));
        (Value::Object(state), Diagnostics::default())
    }

    async fn read_resource(&self, request: ReadRequest) -> ReadResponse {
        self.record("read");
        ReadResponse { new_state: request.current_state, private: request.private, ..Default::default() }
    }

    async fn plan_resource_change(&self, request: PlanRequest) -> PlanResponse {
        self.record(format!("plan {:?}", request.proposed_new_state.attr("size")));
        let Value::Object(mut planned) = request.proposed_new_state else { return PlanResponse::default() };
        planned.insert("id".into(), Value::unknown());
        PlanResponse {
            planned_state: Value::Object(planned),
            requires_replace: vec![AttrPath::root("name")],
            ..Default::default()
        }
    }

    async fn apply_resource_change(&self, request: ApplyRequest) -> ApplyResponse {
        self.record("apply");
        ApplyResponse { new_state: request.planned_state, ..Default::default() }
    }

    async fn move_resource_state(&self, request: MoveRequest) -> (Value, Diagnostics) {
        self.record("move");
        let id = request.source_state["id"].as_str().unwrap_or_default();
        let Value::Object(mut state) = thing(Value::string(id), id, Value::Null) else { unreachable!() };
        state.insert("secret".into(), Value::string("kept by the source"));
        (Value::Object(state), Diagnostics::default())
    }

    async fn import_resource_state(&self, _: &str, id: &str) -> ImportResponse {
        self.record("import");
        let state = thing(Value::string(id), id, Value::Null);
        ImportResponse {
            imported: vec![ImportedResource { type_name: THING.into(), state, private: Vec::new() }],
            ..Default::default()
        }
    }

    async fn stop(&self) {
        self.record("stop");
    }

    fn data_source_schemas(&self) -> BTreeMap<String, Schema> {
        BTreeMap::from([(LOOKUP.to_string(), lookup_schema())])
    }

    async fn read_data_source(&self, _: &str, config: Value) -> (Value, Diagnostics) {
        self.record("read data source");
        let Value::Object(mut state) = config else { return (Value::Null, Diagnostics::default()) };
        let value = format!("value of {}", state["name"].as_str().unwrap_or_default());
        state.insert("value".into(), Value::string(value));
        (Value::Object(state), Diagnostics::default())
    }
}

/// The service with the fake behind it, on a loopback port, and a client connected to it.
async fn serve() -> (Arc<Fake>, ProviderClient<Channel>) {
    let fake = Arc::new(Fake::default());
    let router = super::super::server::routes(fake.clone(), Arc::default(), Arc::new(Notify::new())).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)));
    let channel = Channel::from_shared(format!("http://{address}")).unwrap().connect().await.unwrap();
    (fake, ProviderClient::new(channel))
}

fn dynamic(value: &Value) -> Option<DynamicValue> {
    Some(DynamicValue { msgpack: encode_msgpack(value, &thing_schema().value_type()).unwrap(), json: Vec::new() })
}

fn summaries(diagnostics: &[proto::Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(|d| d.summary.clone()).collect()
}

#[tokio::test]
async fn values_cross_the_wire_decoded_with_unknowns_kept_and_come_back_encoded() {
    let (fake, mut client) = serve().await;
    let proposed = thing(Value::Null, "a", Value::unknown());
    let response = client
        .plan_resource_change(proto::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: dynamic(&Value::Null),
            proposed_new_state: dynamic(&proposed),
            config: dynamic(&proposed),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(response.diagnostics.is_empty(), "{:?}", response.diagnostics);
    assert_eq!(fake.calls.lock().unwrap().as_slice(), [format!("plan {:?}", Value::unknown())]);
    let planned = decode_msgpack(&response.planned_state.unwrap().msgpack, &thing_schema().value_type()).unwrap();
    assert_eq!(planned, thing(Value::unknown(), "a", Value::unknown()));
    assert_eq!(response.requires_replace, [AttrPath::root("name").to_proto()]);
}

#[tokio::test]
async fn what_cannot_be_decoded_or_is_not_offered_never_reaches_the_handler() {
    let (fake, mut client) = serve().await;
    let garbage = Some(DynamicValue { msgpack: vec![0xc1, 0xff], json: Vec::new() });
    let response = client
        .apply_resource_change(proto::apply_resource_change::Request {
            type_name: THING.into(),
            planned_state: garbage,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&response.diagnostics), ["Invalid planned state from Terraform"]);
    let response = client
        .validate_resource_config(proto::validate_resource_config::Request {
            type_name: "fake_other".into(),
            config: dynamic(&thing(Value::Null, "a", Value::Null)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&response.diagnostics), ["Unknown resource type \"fake_other\""]);
    assert!(fake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_handlers_diagnostics_keep_their_attribute_path() {
    let (_, mut client) = serve().await;
    let response = client
        .validate_resource_config(proto::validate_resource_config::Request {
            type_name: THING.into(),
            config: dynamic(&thing(Value::Null, "bad", Value::Null)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&response.diagnostics), ["Bad name"]);
    assert_eq!(response.diagnostics[0].attribute, Some(AttrPath::root("name").to_proto()));
}

/// The server, not each handler, passes a state of the current version through, and refuses
/// one a newer provider wrote; only an older one reaches the handler.
#[tokio::test]
async fn only_an_older_state_version_is_upgraded_by_the_handler() {
    let (fake, mut client) = serve().await;
    let json = br#"{"id":"a","name":"a","size":null}"#.to_vec();
    let mut upgrade = async |version: i64| {
        client
            .upgrade_resource_state(proto::upgrade_resource_state::Request {
                type_name: THING.into(),
                version,
                raw_state: Some(proto::RawState { json: json.clone(), flatmap: Default::default() }),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let current = upgrade(2).await;
    let state = decode_msgpack(&current.upgraded_state.unwrap().msgpack, &thing_schema().value_type()).unwrap();
    assert_eq!(state, thing(Value::string("a"), "a", Value::Null));
    assert!(fake.calls.lock().unwrap().is_empty(), "the current version never reaches the handler");
    let older = upgrade(1).await;
    let state = decode_msgpack(&older.upgraded_state.unwrap().msgpack, &thing_schema().value_type()).unwrap();
    assert_eq!(state.attr("size"), &Value::int(1));
    assert_eq!(fake.calls.lock().unwrap().as_slice(), ["upgrade 1"]);
    let newer = upgrade(3).await;
    assert_eq!(summaries(&newer.diagnostics), ["State written by a newer provider"]);
    assert_eq!(fake.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_imported_state_is_encoded_with_its_resource_type() {
    let (_, mut client) = serve().await;
    let response = client
        .import_resource_state(proto::import_resource_state::Request {
            type_name: THING.into(),
            id: "orders".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let imported = &response.imported_resources[0];
    assert_eq!(imported.type_name, THING);
    let state = decode_msgpack(&imported.state.as_ref().unwrap().msgpack, &thing_schema().value_type()).unwrap();
    assert_eq!(state, thing(Value::string("orders"), "orders", Value::Null));
}

/// A moved resource's source state reaches the handler as the JSON its provider wrote; what
/// comes back is encoded with the target's type, without write-only values.
#[tokio::test]
async fn a_moved_state_is_handed_over_as_json_and_comes_back_as_the_target_type() {
    let (fake, mut client) = serve().await;
    let request = proto::move_resource_state::Request {
        source_provider_address: "registry.terraform.io/someone/else".into(),
        source_type_name: "else_thing".into(),
        source_state: Some(proto::RawState {
            json: br#"{"id":"orders","whatever":[1]}"#.to_vec(),
            ..Default::default()
        }),
        target_type_name: THING.into(),
        ..Default::default()
    };
    let response = client.move_resource_state(request.clone()).await.unwrap().into_inner();
    let state = decode_msgpack(&response.target_state.unwrap().msgpack, &thing_schema().value_type()).unwrap();
    assert_eq!(state, thing(Value::string("orders"), "orders", Value::Null), "no write-only value kept");
    assert_eq!(fake.calls.lock().unwrap().as_slice(), ["move"]);
    let not_json = proto::move_resource_state::Request {
        source_state: Some(proto::RawState { json: b"{".to_vec(), ..Default::default() }),
        ..request
    };
    let response = client.move_resource_state(not_json).await.unwrap().into_inner();
    assert_eq!(summaries(&response.diagnostics), ["Invalid source state"]);
    assert!(response.target_state.is_none());
}

/// Terraform keeps no write-only value: the server drops it from a plan, whatever the handler
/// returned, and refuses one from a Terraform that cannot take it.
#[tokio::test]
async fn write_only_values_stay_out_of_plans_and_need_a_terraform_that_takes_them() {
    let (_, mut client) = serve().await;
    let Value::Object(mut config) = thing(Value::Null, "a", Value::Null) else { unreachable!() };
    config.insert("secret".into(), Value::string("s3cret"));
    let config = Value::Object(config);
    let response = client
        .plan_resource_change(proto::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: dynamic(&Value::Null),
            proposed_new_state: dynamic(&config),
            config: dynamic(&config),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let planned = decode_msgpack(&response.planned_state.unwrap().msgpack, &thing_schema().value_type()).unwrap();
    assert_eq!(planned.attr("secret"), &Value::Null);
    let mut validate = async |allowed: bool| {
        let capabilities = proto::ClientCapabilities { write_only_attributes_allowed: allowed, ..Default::default() };
        let request = proto::validate_resource_config::Request {
            type_name: THING.into(),
            config: dynamic(&config),
            client_capabilities: Some(capabilities),
        };
        summaries(&client.validate_resource_config(request).await.unwrap().into_inner().diagnostics)
    };
    assert_eq!(validate(false).await, ["Write-only attribute needs Terraform 1.11"]);
    assert!(validate(true).await.is_empty());
}

#[tokio::test]
async fn a_data_source_is_read_from_its_configuration_and_an_unknown_one_refused() {
    let (fake, mut client) = serve().await;
    let ty = lookup_schema().value_type();
    let config =
        Value::Object(BTreeMap::from([("name".to_string(), Value::string("a")), ("value".into(), Value::Null)]));
    let mut read = async |type_name: &str| {
        let config = Some(DynamicValue { msgpack: encode_msgpack(&config, &ty).unwrap(), json: Vec::new() });
        let request = proto::read_data_source::Request { type_name: type_name.into(), config, ..Default::default() };
        client.read_data_source(request).await.unwrap().into_inner()
    };
    let response = read(LOOKUP).await;
    let state = decode_msgpack(&response.state.unwrap().msgpack, &ty).unwrap();
    assert_eq!(state.attr("value"), &Value::string("value of a"));
    let response = read("fake_other").await;
    assert_eq!(summaries(&response.diagnostics), ["Unknown data source \"fake_other\""]);
    assert_eq!(fake.calls.lock().unwrap().as_slice(), ["read data source"]);
}
