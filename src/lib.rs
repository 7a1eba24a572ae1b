//! terraform-provider-hikube: managed Kafka on Kubernetes, the way the Hikube cloud offers it.
pub mod kafka;
pub mod tfplugin;
