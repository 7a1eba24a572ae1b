//! The provider binary as go-plugin sees it: the handshake, AutoMTLS with a client certificate
//! shaped like Terraform's, StopProvider cancelling an operation in flight, the controller's
//! shutdown, the debug mode Terraform reattaches to, and a move from hashicorp/helm's
//! `helm_release` that Terraform itself cannot be shown here.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use terraform_provider_hikube::resources;
use terraform_provider_hikube::tfplugin::goplugin::grpc_controller_client::GrpcControllerClient;
use terraform_provider_hikube::tfplugin::proto::provider_client::ProviderClient;
use terraform_provider_hikube::tfplugin::proto::{self, DynamicValue};
use terraform_provider_hikube::tfplugin::value::{Type, Value, decode_msgpack, encode_msgpack};
use terraform_provider_hikube::tfplugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, ProviderHandler};
use tonic::transport::{Channel, Endpoint, Uri};

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-hikube");

/// A client identity like Terraform's: self-signed, P-521, marked as a CA.
struct ClientIdentity {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn client_identity() -> ClientIdentity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA384).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    ClientIdentity { cert_pem: cert.pem(), cert_der: cert.der().to_vec(), key_der: key.serialize_der() }
}

struct Plugin {
    child: Child,
    address: String,
    server_cert: Vec<u8>,
    /// Its working directory, as Terraform's would be: the journal of creates goes there.
    _workdir: tempfile::TempDir,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_plugin(client: &ClientIdentity) -> Plugin {
    let workdir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BINARY)
        .current_dir(workdir.path())
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .env("PLUGIN_CLIENT_CERT", &client.cert_pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let fields: Vec<&str> = line.trim().split('|').collect();
    assert_eq!(&fields[..3], ["1", "6", "tcp"], "handshake line {line:?}");
    assert_eq!(fields[4], "grpc");
    let port: u16 = fields[3].rsplit_once(':').unwrap().1.parse().unwrap();
    assert!((10000..=25000).contains(&port), "port inside PLUGIN_MIN_PORT..PLUGIN_MAX_PORT");
    assert!(!fields[5].ends_with('='), "certificate is base64 without padding");
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD.decode(fields[5]).unwrap();
    Plugin { child, address: fields[3].to_string(), server_cert, _workdir: workdir }
}

/// Whether a process still runs: neither gone nor a zombie waiting for its new parent.
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

/// A provider whose Terraform died without shutting it down (SIGKILL, a crash, Ctrl-C in the
/// middle of a long call) used to stay behind, orphaned, still holding its broker connections.
#[test]
fn a_provider_whose_terraform_is_gone_exits() {
    let workdir = tempfile::tempdir().unwrap();
    // A shell stands in for Terraform: it starts the provider, says its pid, and dies.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BINARY}' >/dev/null 2>&1 & echo $!; sleep 1"))
        .current_dir(workdir.path())
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .output()
        .unwrap();
    let pid = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(!pid.is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let still = running(&pid);
    if still {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    assert!(!still, "the provider (pid {pid}) outlived its parent by 9 s");
}

async fn connect(plugin: &Plugin, client: &ClientIdentity) -> Result<Channel, tonic::transport::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(plugin.server_cert.clone())).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(client.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client.key_der.clone())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let address = plugin.address.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let address = address.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(address).await?;
                let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

fn dynamic(value: &Value, ty: &Type) -> Option<DynamicValue> {
    Some(DynamicValue { msgpack: encode_msgpack(value, ty).unwrap(), json: Vec::new() })
}

#[test]
fn run_by_hand_it_explains_itself_and_prints_nothing_on_stdout() {
    let output = Command::new(BINARY).env_remove(MAGIC_COOKIE_KEY).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not meant to be run by hand"));
}

#[tokio::test]
async fn automtls_accepts_only_terraforms_certificate() {
    rustls::crypto::aws_lc_rs::default_provider().install_default().ok();
    let terraform = client_identity();
    let plugin = start_plugin(&terraform);
    let channel = connect(&plugin, &terraform).await.expect("TLS with the announced client certificate");
    let schema =
        ProviderClient::new(channel.clone()).get_provider_schema(proto::get_provider_schema::Request {}).await.unwrap();
    assert!(schema.into_inner().resource_schemas.contains_key("hikube_kafka_topic"));

    let stranger = client_identity();
    let refused = match connect(&plugin, &stranger).await {
        Err(_) => true,
        Ok(channel) => {
            ProviderClient::new(channel).get_provider_schema(proto::get_provider_schema::Request {}).await.is_err()
        }
    };
    assert!(refused, "a client certificate other than PLUGIN_CLIENT_CERT must be refused");

    let started = Instant::now();
    GrpcControllerClient::new(channel).shutdown(terraform_provider_hikube::tfplugin::goplugin::Empty {}).await.unwrap();
    let mut plugin = plugin;
    loop {
        if plugin.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the plugin exits after the controller's Shutdown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn stop_provider_cancels_an_apply_in_flight_and_keeps_serving() {
    rustls::crypto::aws_lc_rs::default_provider().install_default().ok();
    let terraform = client_identity();
    let plugin = start_plugin(&terraform);
    let channel = connect(&plugin, &terraform).await.unwrap();
    let mut client = ProviderClient::new(channel);

    let provider_type = resources::HikubeProvider::default().provider_schema().value_type();
    let config = Value::Object(BTreeMap::from([(
        "kafka".to_string(),
        Value::Object(BTreeMap::from([
            // Nothing listens on port 1: every attempt fails and is retried until the timeout.
            ("bootstrap_servers".to_string(), Value::List(vec![Value::string("127.0.0.1:1")])),
            ("request_timeout".to_string(), Value::string("2s")),
        ])),
    )]));
    let configured = client
        .configure_provider(proto::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: dynamic(&config, &provider_type),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(configured.diagnostics.is_empty(), "{:?}", configured.diagnostics);

    let topic_type =
        resources::all().into_iter().find(|r| r.type_name() == "hikube_kafka_topic").unwrap().schema().value_type();
    let planned = Value::Object(BTreeMap::from([
        ("id".to_string(), Value::string("stopped")),
        ("name".to_string(), Value::string("stopped")),
        ("partitions".to_string(), Value::int(1)),
        ("replication_factor".to_string(), Value::int(1)),
        ("timeout".to_string(), Value::string("10m")),
    ]));
    let apply = {
        let mut client = client.clone();
        let request = proto::apply_resource_change::Request {
            type_name: "hikube_kafka_topic".into(),
            prior_state: dynamic(&Value::Null, &topic_type),
            planned_state: dynamic(&planned, &topic_type),
            config: dynamic(&planned, &topic_type),
            ..Default::default()
        };
        tokio::spawn(async move { client.apply_resource_change(request).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    client.stop_provider(proto::stop_provider::Request {}).await.unwrap();
    let applied =
        tokio::time::timeout(Duration::from_secs(5), apply).await.expect("apply returns soon after StopProvider");
    let diagnostics = applied.unwrap().unwrap().into_inner().diagnostics;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(diagnostics.iter().any(|d| d.detail.contains("cancelled")), "{diagnostics:?}");
    let schema = client.get_provider_schema(proto::get_provider_schema::Request {}).await;
    assert!(schema.is_ok(), "the server keeps serving after StopProvider");
}

#[test]
fn debug_mode_serves_terraform_through_reattach() {
    let Some(stack) = support::Stack::from_env() else { return };
    let mut child = Command::new(BINARY).arg("--debug").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let reattach = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.trim().strip_prefix("TF_REATTACH_PROVIDERS=").map(|v| v.trim_matches('\'').to_string()))
        .expect("the debug mode prints TF_REATTACH_PROVIDERS");
    let ws = support::terraform::Workspace::new(&stack).env("TF_REATTACH_PROVIDERS", &reattach);
    ws.write(&format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\
         provider \"hikube\" {{\n  kafka = {{ bootstrap_servers = [{:?}] }}\n}}\n\
         resource \"hikube_kafka_topic\" \"t\" {{\n  name = \"debug-mode\"\n  partitions = 1\n}}\n",
        stack.plain_bootstrap.split(',').next().unwrap()
    ));
    let (code, plan) = ws.plan();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("hikube_kafka_topic.t will be created"), "{plan}");
}

/// hashicorp/helm's provider cannot be had on this machine (the module proxy refuses its v2 and
/// v3 releases), and Terraform refuses to plan a state holding a `helm_release` without it. The
/// move is therefore checked one level down, in the order Terraform makes its calls: a release
/// the real helm installed from this provider's chart, the `helm_release` state as hashicorp/helm
/// writes it, MoveResourceState to the real binary before it is configured (as Terraform asks),
/// then the refresh, which must give what an import of the release gives. A release named
/// otherwise, or of another chart, is refused.
#[tokio::test]
async fn a_helm_release_of_this_providers_chart_moves_as_an_import_takes_it() {
    let Some(stack) = support::Stack::from_env() else { return };
    rustls::crypto::aws_lc_rs::default_provider().install_default().ok();
    let namespace = support::unique("helm-move");
    let _cleanup = stack.namespace_cleanup(&namespace);
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/zookeeper");
    let install = ["install", "orders-zookeeper", chart, "-n", &namespace, "--create-namespace", "--set", "replicas=1"];
    support::check(stack.helm(&install), "helm install");

    let terraform = client_identity();
    let plugin = start_plugin(&terraform);
    let mut client = ProviderClient::new(connect(&plugin, &terraform).await.unwrap());
    let helm_release = |name: &str| {
        let state = serde_json::json!({
            "id": name, "name": name, "namespace": namespace, "chart": "./charts/zookeeper",
            "values": ["replicas: 1\n"], "status": "deployed", "atomic": false, "wait": false,
            "metadata": [{ "chart": "zookeeper", "name": name, "namespace": namespace, "revision": 1, "version": "0.1.0" }]
        });
        Some(proto::RawState { json: serde_json::to_vec(&state).unwrap(), ..Default::default() })
    };
    let mut mover = client.clone();
    let mut move_to = async |target: &str, source_type: &str, name: &str| {
        let request = proto::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/hashicorp/helm".into(),
            source_type_name: source_type.into(),
            source_schema_version: 1,
            source_state: helm_release(name),
            target_type_name: target.into(),
            ..Default::default()
        };
        mover.move_resource_state(request).await.unwrap().into_inner()
    };
    let ensemble = "hikube_zookeeper_ensemble";
    let moved = move_to(ensemble, "helm_release", "orders-zookeeper").await;
    assert!(moved.diagnostics.is_empty(), "{:?}", moved.diagnostics);
    for (target, source_type, name, says) in [
        (ensemble, "helm_release", "orders", "cannot be renamed"),
        ("hikube_kafka_cluster", "helm_release", "orders-zookeeper", "runs chart \"zookeeper\""),
        (ensemble, "kubernetes_manifest", "orders-zookeeper", "Cannot move this resource"),
    ] {
        let refused = move_to(target, source_type, name).await;
        let text: Vec<String> = refused.diagnostics.iter().map(|d| format!("{} {}", d.summary, d.detail)).collect();
        assert!(
            refused.target_state.is_none() && text.iter().any(|t| t.contains(says)),
            "{name} into {target}: {text:?}"
        );
    }

    let provider_type = resources::HikubeProvider::default().provider_schema().value_type();
    let config = Value::Object(BTreeMap::from([("namespace".to_string(), Value::string(&namespace))]));
    let configure = proto::configure_provider::Request {
        terraform_version: "1.11.4".into(),
        config: dynamic(&config, &provider_type),
        client_capabilities: None,
    };
    let configured = client.configure_provider(configure).await.unwrap().into_inner();
    assert!(configured.diagnostics.is_empty(), "{:?}", configured.diagnostics);
    let ensemble_type = resources::all().into_iter().find(|r| r.type_name() == ensemble).unwrap().schema().value_type();
    let mut importer = client.clone();
    let mut refresh = async |state: DynamicValue| {
        let request = proto::read_resource::Request {
            type_name: ensemble.into(),
            current_state: Some(state),
            ..Default::default()
        };
        let read = client.read_resource(request).await.unwrap().into_inner();
        assert!(read.diagnostics.iter().all(|d| d.severity != 1), "{:?}", read.diagnostics);
        decode_msgpack(&read.new_state.unwrap().msgpack, &ensemble_type).unwrap()
    };
    let refreshed = refresh(moved.target_state.unwrap()).await;
    assert_eq!(refreshed.attr("id"), &Value::string(format!("{namespace}/orders")));
    assert_eq!(refreshed.attr("replicas"), &Value::int(1), "the refresh reads the release's values");
    let import = proto::import_resource_state::Request {
        type_name: ensemble.into(),
        id: format!("{namespace}/orders"),
        ..Default::default()
    };
    let imported = importer.import_resource_state(import).await.unwrap().into_inner();
    let imported = refresh(imported.imported_resources[0].state.clone().unwrap()).await;
    assert_eq!(refreshed, imported, "a move takes the release over as an import does");
}
