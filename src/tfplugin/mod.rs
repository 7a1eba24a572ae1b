//! The protocol layer: Terraform's plugin protocol 6 over gRPC, the go-plugin handshake with
//! AutoMTLS, the value codec and schemas. It knows no resource: a provider plugs in through
//! [`ProviderHandler`].

pub mod diag;
mod drain;
mod handler;
mod handshake;
pub mod logging;
pub mod schema;
mod server;
mod service;
mod tls;
pub mod value;

pub use handler::*;
pub use server::{serve, serve_debug};
pub use tls::install_crypto_provider;

/// Messages generated from `proto/tfplugin6.proto`.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("tfplugin6");
}

/// Messages generated from `proto/goplugin.proto`.
#[allow(clippy::all, missing_docs)]
pub mod goplugin {
    tonic::include_proto!("plugin");
}

/// The magic cookie go-plugin sets for Terraform's providers.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "this binary is a Terraform provider plugin and is not meant to be run by hand.\n\
         Terraform starts it; see the README for installing it (dev_overrides or a filesystem mirror).\n\
         To debug it, run it with --debug and export the TF_REATTACH_PROVIDERS value it prints."
    )]
    NotLaunchedByTerraform,
    #[error(
        "Terraform offers plugin protocol versions {0:?}; this provider speaks only version 6 (Terraform 1.0 or later)"
    )]
    UnsupportedProtocol(String),
    #[error("no free port between PLUGIN_MIN_PORT={min} and PLUGIN_MAX_PORT={max}")]
    NoFreePort { min: u16, max: u16 },
    #[error("invalid {name}: {reason}")]
    BadEnvironment { name: &'static str, reason: String },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("gRPC transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
}
