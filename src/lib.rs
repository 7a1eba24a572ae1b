//! terraform-provider-hikube: managed Kafka on Kubernetes, the way the Hikube cloud offers it.
//!
//! ```text
//! main.rs ─ flags, logging, serve
//!   │
//!   ├─ tfplugin ─ protocol: handshake and AutoMTLS (server), the provider service (service),
//!   │             value codec, schemas with validators and plan modifiers, diagnostics.
//!   │             Knows no resource: a provider plugs in through `ProviderHandler`.
//!   │
//!   ├─ resources ─ the provider (provider, provider_config) and
//!   │   ├─ framework ─ typed models (`model!`), the schema's validators run once, the plan
//!   │   │              steps (defaults, computed to unknown, use-state-for-unknown,
//!   │   │              requires-replace, then the resource), apply as create/update/delete
//!   │   ├─ errors ─ kafka, helm and Kubernetes errors to diagnostics with hints and paths
//!   │   └─ kafka_topic/, helm_release/ (+ zookeeper_ensemble, kafka_cluster) ─ one per resource
//!   │
//!   └─ domain, knowing nothing of Terraform:
//!       ├─ kafka ─ admin (typed operations, coalescers, read-ahead) → cluster (transport:
//!       │          connections, topology, routing, retries) → conn (TLS, SASL); types, the
//!       │          reassignment planner
//!       ├─ helm ─ the helm driver and release records
//!       └─ k8s ─ Kubernetes reads, drift, pod commands
//! ```
//!
//! Dependencies go down the drawing, never up. [`docs`] renders the registry pages from the
//! schemas (`cargo run --example docs` writes them).

pub mod docs;
pub mod helm;
pub mod k8s;
pub mod kafka;
pub mod resources;
pub mod tfplugin;
