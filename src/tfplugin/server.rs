//! Serving the provider to Terraform: the listener with AutoMTLS, the provider service (see
//! `service`), go-plugin's controller, stdio and broker, health, and the drain on shutdown.

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

use super::drain::InFlight;
use super::goplugin;
use super::handler::ProviderHandler;
use super::handshake::{Handshake, handshake_line};
use super::proto::provider_server::ProviderServer;
use super::service::ProviderService;
use super::tls::auto_mtls;
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

pub(super) async fn routes<H: ProviderHandler>(
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
