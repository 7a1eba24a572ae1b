//! The Kubernetes client and helm must act on the same cluster. With `config_context` set and
//! no path, the client used to infer its configuration, taking the kubeconfig's *current*
//! context, while helm got `--kube-context`: volume and StatefulSet deletions and drift reads
//! could hit another cluster than the release.
//!
//! Alone in its test binary: it points HOME at a kubeconfig of its own.

use terraform_provider_hikube::k8s::{Connection, client_config};

const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: staging
clusters:
- name: staging
  cluster: {server: "https://127.0.0.1:16001"}
- name: prod
  cluster: {server: "https://127.0.0.1:16002"}
users:
- name: me
  user: {token: not-a-real-token}
contexts:
- name: staging
  context: {cluster: staging, user: me}
- name: prod
  context: {cluster: prod, user: me}
"#;

#[tokio::test]
async fn a_context_without_a_path_is_that_context_of_the_kubeconfig_helm_reads() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::write(home.path().join(".kube/config"), KUBECONFIG).unwrap();
    // SAFETY: the only test of this binary, run before anything reads the environment.
    unsafe {
        std::env::set_var("HOME", home.path());
        std::env::remove_var("KUBECONFIG");
    }
    let prod = client_config(&Connection { context: Some("prod".into()), ..Default::default() }).await.unwrap();
    assert_eq!(prod.cluster_url.port_u16(), Some(16002), "the named context, not the current one");
    let current = client_config(&Connection::default()).await.unwrap();
    assert_eq!(current.cluster_url.port_u16(), Some(16001));
}
