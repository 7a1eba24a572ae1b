//! The gRPC services Terraform talks to: the provider service (wire messages in, decoded values
//! to the [`ProviderHandler`] and back), go-plugin's controller, stdio and broker, and health.

use std::collections::BTreeMap;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};

use super::diag::{Diagnostic, Diagnostics};
use super::drain::InFlight;
use super::goplugin;
use super::handler::*;
use super::handshake::{Handshake, handshake_line};
use super::proto;
use super::proto::provider_server::{Provider, ProviderServer};
use super::schema::Schema;
use super::tls::auto_mtls;
use super::value::{Type, Value, decode_json, decode_msgpack, encode_msgpack};
use super::{Error, handshake};

/// How long a shutdown waits for calls in flight: go-plugin kills a plugin that has not exited
/// 2 s after asking it to.
const DRAIN_LIMIT: Duration = Duration::from_millis(1500);

/// Serves the provider as a go-plugin child of Terraform until Terraform shuts it down, or
/// goes away without doing so.
pub async fn serve<H: ProviderHandler>(handler: H) -> Result<(), Error> {
    let handshake = Handshake::from_env(|k| std::env::var(k).ok())?;
    let listener = handshake.bind().await?;
    let addr = listener.local_addr()?;
    let handler = Arc::new(handler);
    let calls = Arc::new(InFlight::default());
    let shutdown = Arc::new(Notify::new());
    tokio::spawn(watch_parent(shutdown.clone()));
    let router = routes(handler.clone(), calls.clone(), shutdown.clone()).await;
    let stopped = async {
        shutdown.notified().await;
        // Operations in flight wind down and return what they did; their answers go out
        // before the process ends.
        handler.stop().await;
        if !calls.drained(DRAIN_LIMIT).await {
            tracing::warn!("calls still in flight after {DRAIN_LIMIT:?}; exiting anyway");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let served = match handshake.client_cert_pem {
        Some(pem) => {
            let mtls = auto_mtls(&pem)?;
            print_handshake(&handshake_line(addr, Some(&mtls.server_cert_der)))?;
            let incoming = tls_incoming(listener, TlsAcceptor::from(mtls.config));
            tracing::debug!(%addr, "serving plugin protocol 6 with AutoMTLS");
            tokio::select! {
                served = router.serve_with_incoming(incoming) => served,
                () = stopped => Ok(()),
            }
        }
        None => {
            print_handshake(&handshake_line(addr, None))?;
            tracing::debug!(%addr, "serving plugin protocol 6 without TLS (Terraform sent no client certificate)");
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).inspect(|tcp| {
                if let Ok(tcp) = tcp {
                    nodelay(tcp);
                }
            });
            tokio::select! {
                served = router.serve_with_incoming(incoming) => served,
                () = stopped => Ok(()),
            }
        }
    };
    Ok(served?)
}

/// A provider whose Terraform is gone (killed, or exited without shutting it down) has nobody
/// to answer: it stops rather than stay behind, orphaned, holding connections.
async fn watch_parent(shutdown: Arc<Notify>) {
    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = unsafe { libc::getppid() };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // SAFETY: as above.
        if unsafe { libc::getppid() } != parent {
            tracing::warn!(parent, "Terraform is gone; stopping");
            shutdown.notify_one();
            return;
        }
    }
}

/// gRPC's small request-reply frames would otherwise wait out Nagle against Terraform's delayed
/// ACKs: about 40 ms on the first calls of every provider process.
fn nodelay(tcp: &TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
}

/// Serves on a Unix socket for a debugger-attached run, printing the `TF_REATTACH_PROVIDERS`
/// value to export in the shell that runs Terraform.
pub async fn serve_debug<H: ProviderHandler>(handler: H, provider_address: &str) -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("terraform-provider-hikube-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("plugin.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = tokio::net::UnixListener::bind(&socket)?;
    let reattach = serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": handshake::APP_PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": {"Network": "unix", "String": socket.display().to_string()},
        }
    });
    // One write, and a closed stdout is no reason to stop serving: the reader may be gone.
    let banner = format!(
        "Provider started. To attach Terraform, set in its environment:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n\nStop with Ctrl-C.\n"
    );
    let _ = std::io::stdout().lock().write_all(banner.as_bytes()).and_then(|()| std::io::stdout().flush());
    let shutdown = Arc::new(Notify::new());
    let router = routes(Arc::new(handler), Arc::default(), shutdown.clone()).await;
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    let stop = async move {
        tokio::select! {
            _ = shutdown.notified() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let result = router.serve_with_incoming_shutdown(incoming, stop).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(result?)
}

fn print_handshake(line: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

async fn routes<H: ProviderHandler>(
    handler: Arc<H>,
    calls: Arc<InFlight>,
    shutdown: Arc<Notify>,
) -> tonic::transport::server::Router {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_service_status("plugin", tonic_health::ServingStatus::Serving).await;
    let provider = ProviderService::new(handler, calls);
    Server::builder()
        .add_service(health_service)
        .add_service(
            ProviderServer::new(provider)
                .max_decoding_message_size(256 * 1024 * 1024)
                .max_encoding_message_size(256 * 1024 * 1024),
        )
        .add_service(goplugin::grpc_controller_server::GrpcControllerServer::new(Controller { shutdown }))
        .add_service(goplugin::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(goplugin::grpc_broker_server::GrpcBrokerServer::new(Broker))
}

fn tls_incoming(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
) -> ReceiverStream<Result<TlsConn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            };
            nodelay(&tcp);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(TlsConn(tls))).await;
                    }
                    Ok(Err(e)) => tracing::warn!(%peer, error = %e, "TLS handshake with Terraform failed"),
                    Err(_) => tracing::warn!(%peer, "TLS handshake with Terraform timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// A TLS connection as tonic's server wants it.
struct TlsConn(tokio_rustls::server::TlsStream<TcpStream>);

impl Connected for TlsConn {
    type ConnectInfo = ();

    fn connect_info(&self) {}
}

impl AsyncRead for TlsConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

struct Controller {
    shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl goplugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<goplugin::Empty>) -> Result<Response<goplugin::Empty>, Status> {
        tracing::debug!("Terraform asked the plugin to shut down");
        let shutdown = self.shutdown.clone();
        // Answer first: go-plugin waits for this reply before it closes the connection.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            shutdown.notify_one();
        });
        Ok(Response::new(goplugin::Empty {}))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The provider writes nothing to stdout or stderr besides logs, which go-plugin reads from the
/// process's stderr; the stream stays open and silent.
struct Stdio;

#[tonic::async_trait]
impl goplugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<goplugin::StdioData>;

    async fn stream_stdio(&self, _: Request<goplugin::Empty>) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}

/// The provider opens no extra connections through go-plugin's broker; the stream is drained
/// until Terraform closes it.
struct Broker;

#[tonic::async_trait]
impl goplugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BoxStream<goplugin::ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<goplugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let inbound = request.into_inner();
        let drained = inbound.filter_map(|_| async { None });
        Ok(Response::new(Box::pin(drained)))
    }
}

/// The schemas and value types, computed once: every call needs them.
struct ProviderService<H> {
    handler: Arc<H>,
    calls: Arc<InFlight>,
    provider_schema: Schema,
    resource_schemas: BTreeMap<String, Schema>,
    resource_types: BTreeMap<String, Type>,
    provider_type: Type,
}

impl<H: ProviderHandler> ProviderService<H> {
    fn new(handler: Arc<H>, calls: Arc<InFlight>) -> Self {
        let provider_schema = handler.provider_schema();
        let resource_schemas = handler.resource_schemas();
        let resource_types = resource_schemas.iter().map(|(k, s)| (k.clone(), s.value_type())).collect();
        ProviderService {
            provider_type: provider_schema.value_type(),
            provider_schema,
            resource_schemas,
            resource_types,
            handler,
            calls,
        }
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
    async fn get_metadata(
        &self,
        _: Request<proto::get_metadata::Request>,
    ) -> Result<Response<proto::get_metadata::Response>, Status> {
        Ok(Response::new(proto::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .resource_schemas
                .keys()
                .map(|k| proto::get_metadata::ResourceMetadata { type_name: k.clone() })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<proto::get_provider_schema::Request>,
    ) -> Result<Response<proto::get_provider_schema::Response>, Status> {
        Ok(Response::new(proto::get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self.resource_schemas.iter().map(|(k, s)| (k.clone(), s.to_proto())).collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        request: Request<proto::validate_provider_config::Request>,
    ) -> Result<Response<proto::validate_provider_config::Response>, Status> {
        let request = request.into_inner();
        let config = decode_or_return!(
            decode(request.config.as_ref(), &self.provider_type, "provider configuration"),
            proto::validate_provider_config::Response
        );
        let diagnostics = self.handler.validate_provider_config(config).await;
        Ok(Response::new(proto::validate_provider_config::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<proto::validate_resource_config::Request>,
    ) -> Result<Response<proto::validate_resource_config::Response>, Status> {
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.type_name), proto::validate_resource_config::Response);
        let config = decode_or_return!(
            decode(request.config.as_ref(), ty, "resource configuration"),
            proto::validate_resource_config::Response
        );
        let diagnostics = self.handler.validate_resource_config(&request.type_name, config).await;
        Ok(Response::new(proto::validate_resource_config::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<proto::validate_data_resource_config::Request>,
    ) -> Result<Response<proto::validate_data_resource_config::Response>, Status> {
        let type_name = request.into_inner().type_name;
        let diagnostics: Diagnostics =
            Diagnostic::error(format!("Unknown data source {type_name:?}"), "This provider has no data sources yet.")
                .into();
        Ok(Response::new(proto::validate_data_resource_config::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<proto::upgrade_resource_state::Request>,
    ) -> Result<Response<proto::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.type_name), proto::upgrade_resource_state::Response);
        let raw = request.raw_state.unwrap_or_default();
        if raw.json.is_empty() && !raw.flatmap.is_empty() {
            let diagnostics: Diagnostics = Diagnostic::error(
                "Unsupported state format",
                "The stored state is in the pre-0.12 flatmap format, which this provider never wrote.",
            )
            .into();
            return Ok(Response::new(proto::upgrade_resource_state::Response {
                diagnostics: diagnostics.to_proto(),
                ..Default::default()
            }));
        }
        let state = decode_or_return!(
            decode_json(&raw.json, ty).map_err(|e| Diagnostics::from(Diagnostic::error(
                "Invalid stored state",
                format!("The state of this resource could not be read: {e}.")
            ))),
            proto::upgrade_resource_state::Response
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
        Ok(Response::new(proto::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: diagnostics.to_proto(),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<proto::get_resource_identity_schemas::Request>,
    ) -> Result<Response<proto::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(proto::get_resource_identity_schemas::Response::default()))
    }

    async fn configure_provider(
        &self,
        request: Request<proto::configure_provider::Request>,
    ) -> Result<Response<proto::configure_provider::Response>, Status> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let config = decode_or_return!(
            decode(request.config.as_ref(), &self.provider_type, "provider configuration"),
            proto::configure_provider::Response
        );
        let diagnostics = self.handler.configure_provider(config, request.terraform_version).await;
        Ok(Response::new(proto::configure_provider::Response { diagnostics: diagnostics.to_proto() }))
    }

    async fn read_resource(
        &self,
        request: Request<proto::read_resource::Request>,
    ) -> Result<Response<proto::read_resource::Response>, Status> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.type_name), proto::read_resource::Response);
        let current_state = decode_or_return!(
            decode(request.current_state.as_ref(), ty, "current state"),
            proto::read_resource::Response
        );
        let response = self
            .handler
            .read_resource(ReadRequest { type_name: request.type_name, current_state, private: request.private })
            .await;
        let mut diagnostics = response.diagnostics;
        let new_state = encode(&response.new_state, ty, &mut diagnostics);
        Ok(Response::new(proto::read_resource::Response {
            new_state,
            diagnostics: diagnostics.to_proto(),
            private: response.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<proto::plan_resource_change::Request>,
    ) -> Result<Response<proto::plan_resource_change::Response>, Status> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.type_name), proto::plan_resource_change::Response);
        let prior_state = decode_or_return!(
            decode(request.prior_state.as_ref(), ty, "prior state"),
            proto::plan_resource_change::Response
        );
        let proposed_new_state = decode_or_return!(
            decode(request.proposed_new_state.as_ref(), ty, "proposed new state"),
            proto::plan_resource_change::Response
        );
        let config = decode_or_return!(
            decode(request.config.as_ref(), ty, "configuration"),
            proto::plan_resource_change::Response
        );
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
        let planned_state = encode(&response.planned_state, ty, &mut diagnostics);
        Ok(Response::new(proto::plan_resource_change::Response {
            planned_state,
            requires_replace: response.requires_replace.iter().map(|p| p.to_proto()).collect(),
            planned_private: response.planned_private,
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<proto::apply_resource_change::Request>,
    ) -> Result<Response<proto::apply_resource_change::Response>, Status> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        let ty = decode_or_return!(self.resource_type(&request.type_name), proto::apply_resource_change::Response);
        let prior_state = decode_or_return!(
            decode(request.prior_state.as_ref(), ty, "prior state"),
            proto::apply_resource_change::Response
        );
        let planned_state = decode_or_return!(
            decode(request.planned_state.as_ref(), ty, "planned state"),
            proto::apply_resource_change::Response
        );
        let config = decode_or_return!(
            decode(request.config.as_ref(), ty, "configuration"),
            proto::apply_resource_change::Response
        );
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
        let new_state = encode(&response.new_state, ty, &mut diagnostics);
        Ok(Response::new(proto::apply_resource_change::Response {
            new_state,
            private: response.private,
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<proto::import_resource_state::Request>,
    ) -> Result<Response<proto::import_resource_state::Response>, Status> {
        let _call = self.calls.enter();
        let request = request.into_inner();
        decode_or_return!(self.resource_type(&request.type_name), proto::import_resource_state::Response);
        let response = self.handler.import_resource_state(&request.type_name, &request.id).await;
        let mut diagnostics = response.diagnostics;
        let mut imported_resources = Vec::new();
        for resource in response.imported {
            let Ok(ty) = self.resource_type(&resource.type_name) else { continue };
            if let Some(state) = encode(&resource.state, ty, &mut diagnostics) {
                imported_resources.push(proto::import_resource_state::ImportedResource {
                    type_name: resource.type_name,
                    state: Some(state),
                    private: resource.private,
                    identity: None,
                });
            }
        }
        Ok(Response::new(proto::import_resource_state::Response {
            imported_resources,
            diagnostics: diagnostics.to_proto(),
            deferred: None,
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<proto::read_data_source::Request>,
    ) -> Result<Response<proto::read_data_source::Response>, Status> {
        let type_name = request.into_inner().type_name;
        let diagnostics: Diagnostics =
            Diagnostic::error(format!("Unknown data source {type_name:?}"), "This provider has no data sources yet.")
                .into();
        Ok(Response::new(proto::read_data_source::Response {
            diagnostics: diagnostics.to_proto(),
            ..Default::default()
        }))
    }

    async fn get_functions(
        &self,
        _: Request<proto::get_functions::Request>,
    ) -> Result<Response<proto::get_functions::Response>, Status> {
        Ok(Response::new(proto::get_functions::Response::default()))
    }

    async fn stop_provider(
        &self,
        _: Request<proto::stop_provider::Request>,
    ) -> Result<Response<proto::stop_provider::Response>, Status> {
        tracing::info!("Terraform asked the provider to stop in-flight operations");
        self.handler.stop().await;
        Ok(Response::new(proto::stop_provider::Response::default()))
    }
}

fn capabilities() -> proto::ServerCapabilities {
    proto::ServerCapabilities {
        // Destroy plans come to the provider, so deletion protection can refuse them at plan.
        plan_destroy: true,
        get_provider_schema_optional: false,
        move_resource_state: false,
    }
}
