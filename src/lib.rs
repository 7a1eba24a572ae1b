//! terraform-provider-hikube: managed Kafka on Kubernetes, the way the Hikube cloud offers it.
//!
//! Three layers, each knowing only the one below it. [`tfplugin`] is the protocol: Terraform's
//! plugin protocol 6 over gRPC, the go-plugin handshake with AutoMTLS, the cty value codec,
//! schemas and diagnostics; it knows no resource, and a provider plugs into it through
//! [`tfplugin::ProviderHandler`]. [`kafka`], [`helm`] and [`k8s`] are the domain: an admin
//! client on the `kafka-protocol` crate with TLS, SASL, controller routing, retries, request
//! coalescing and read-ahead; the helm driver; Kubernetes reads, drift and pod commands. They
//! know nothing of Terraform.
//!
//! [`resources`] joins them: the provider's configuration, a thin framework layer that applies
//! what the schema declares (defaults, requires-replace), and one module per resource (schema,
//! plan, apply, read, import), converting Terraform values to typed configuration at the
//! boundary and domain errors to diagnostics with attribute paths. `main.rs` only wires these
//! together: flags, logging, serving; [`docs`] renders the registry pages from the schemas.

pub mod docs;
pub mod helm;
pub mod k8s;
pub mod kafka;
pub mod resources;
pub mod tfplugin;
