//! Secrets never leave their sensitive attributes: with `TF_LOG=trace`, a plan and an apply that
//! use a SASL password, a TLS client key, a Kubernetes bearer token and a Kafka user's write-only
//! password, and that deploy a cluster whose admin password the provider generates, are searched
//! for them —
//! Terraform's and the provider's logs, what the CLI printed, the state, the saved plan (each file
//! of it) and the plan as JSON, helm's command lines while it runs, every temp file the provider
//! writes (each 0600, each removed afterwards), the namespace's ConfigMaps and the Helm releases'
//! values and manifests. The variables are ephemeral: Terraform itself records a non-ephemeral
//! variable's value in a saved plan.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::terraform::Workspace;
use support::{Stack, check, unique};

/// A ServiceAccount with cluster-admin and a bearer token for it, as a platform team would give
/// Terraform.
fn kube_token(stack: &Stack, namespace: &str) -> String {
    check(stack.kubectl(&["create", "namespace", namespace]), "create namespace");
    check(stack.kubectl(&["-n", namespace, "create", "serviceaccount", "terraform"]), "create serviceaccount");
    check(
        stack.kubectl(&[
            "create",
            "clusterrolebinding",
            namespace,
            "--clusterrole=cluster-admin",
            &format!("--serviceaccount={namespace}:terraform"),
        ]),
        "create clusterrolebinding",
    );
    check(stack.kubectl(&["-n", namespace, "create", "token", "terraform", "--duration=1h"]), "create token")
        .trim()
        .to_string()
}

fn client_key_and_cert() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["terraform".to_string()]).unwrap().self_signed(&key).unwrap();
    (key.serialize_pem(), cert.pem())
}

/// What a watcher saw while Terraform ran: helm's command lines and the temp files written.
#[derive(Default)]
struct Seen {
    helm_command_lines: Vec<String>,
    temp_files: BTreeMap<PathBuf, (u32, String)>,
}

fn watch(helm: PathBuf, temp_dir: PathBuf, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let helm = std::fs::canonicalize(helm).unwrap();
    while !stop.load(Ordering::Relaxed) {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == helm)
                && let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
            {
                let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                seen.lock().unwrap().helm_command_lines.push(line);
            }
        }
        for entry in walk(&temp_dir) {
            if let (Ok(meta), Ok(content)) = (std::fs::metadata(&entry), std::fs::read_to_string(&entry)) {
                seen.lock().unwrap().temp_files.insert(entry, (meta.permissions().mode() & 0o777, content));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Each secret found in a place, with the line it stands on. A PEM key is looked for line by
/// line: a log could split or re-wrap it.
fn secrets_found(places: &[(String, String)], secrets: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for (place, text) in places {
        for (secret, value) in secrets {
            let needles: Vec<&str> = match value.contains("-----BEGIN") {
                true => value.lines().filter(|l| l.len() > 20 && !l.starts_with("-----")).collect(),
                false => vec![value.trim()],
            };
            if let Some(at) = needles.iter().find_map(|n| text.find(n)) {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let context: String = text[line_start..].chars().take(300).collect();
                found.push(format!("{secret} in {place}: {context}"));
            }
        }
    }
    found
}

#[test]
fn no_secret_in_logs_output_state_argv_or_temp_files() {
    let Some(stack) = Stack::from_env() else { return };
    let namespace = unique("secrets");
    let _cleanup = stack.namespace_cleanup(&namespace);
    let token = kube_token(&stack, &namespace);
    let password = stack.sasl_password();
    let (client_key, client_cert) = client_key_and_cert();
    let kafka_ca = std::fs::read_to_string(&stack.kafka_ca).unwrap();
    let kube_ca =
        std::fs::read_to_string(Path::new(&std::env::var("HIKUBE_STATE_DIR").unwrap()).join("pki/kube-ca.crt"))
            .unwrap();
    let topic = unique("secrets");
    let _topics = stack.topic_cleanup(&[&topic]);
    let (user, user_password) = (unique("secrets-user"), unique("user-password"));
    let servers = stack.sasl_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let temp_dir = tempfile::tempdir().unwrap();
    let log_file = temp_dir.path().join("terraform.log");
    let provider_temp = temp_dir.path().join("tmp");
    std::fs::create_dir(&provider_temp).unwrap();
    let workspace = Workspace::new(&stack)
        .env("TF_LOG", "trace")
        .env("TF_LOG_PATH", log_file.to_str().unwrap())
        .env("TMPDIR", provider_temp.to_str().unwrap())
        .env("TF_VAR_kafka_password", &password)
        .env("TF_VAR_client_key", &client_key)
        .env("TF_VAR_kube_token", &token)
        .env("TF_VAR_user_password", &user_password);
    workspace.write(&format!(
        r#"terraform {{
  required_providers {{
    hikube = {{ source = "hikube/hikube" }}
  }}
}}

variable "kafka_password" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

variable "client_key" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

variable "kube_token" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

variable "user_password" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

provider "hikube" {{
  kubernetes = {{
    host                   = "https://127.0.0.1:16443"
    token                  = var.kube_token
    cluster_ca_certificate = {kube_ca:?}
  }}
  kafka = {{
    bootstrap_servers = [{servers}]
    tls = {{
      ca_cert     = {kafka_ca:?}
      client_cert = {client_cert:?}
      client_key  = var.client_key
    }}
    sasl = {{
      mechanism = "SCRAM-SHA-512"
      username  = {username:?}
      password  = var.kafka_password
    }}
  }}
}}

resource "hikube_kafka_topic" "t" {{
  name               = {topic:?}
  partitions         = 2
  replication_factor = 2
}}

resource "hikube_kafka_user" "u" {{
  name                = {user:?}
  password_wo         = var.user_password
  password_wo_version = 1
}}

resource "hikube_zookeeper_ensemble" "zk" {{
  name             = "zk"
  namespace        = {namespace:?}
  replicas         = 1
  resources_preset = "nano"
  storage_size     = "1Gi"
}}

resource "hikube_kafka_cluster" "kafka" {{
  name                = "kafka"
  namespace           = {namespace:?}
  replicas            = 1
  zookeeper           = hikube_zookeeper_ensemble.zk.connect_string
  resources_preset    = "nano"
  storage_size        = "1Gi"
  deletion_protection = false
}}
"#,
        username = stack.sasl_username,
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = {
        let (helm, dir, stop, seen) = (stack.helm.clone(), provider_temp.clone(), stop.clone(), seen.clone());
        std::thread::spawn(move || watch(helm, dir, stop, seen))
    };
    let plan = workspace.terraform(&["plan", "-no-color", "-input=false", "-out=tfplan"]);
    let applied = workspace.terraform(&["apply", "-no-color", "-input=false", "tfplan"]);
    let refreshed = workspace.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let printed: String = [&plan, &applied, &refreshed]
        .iter()
        .map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
        .collect();
    assert!(plan.status.success() && applied.status.success(), "plan or apply failed:\n{printed}");
    assert_eq!(refreshed.status.code(), Some(0), "the second plan is not empty:\n{printed}");

    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(log.contains("provider.terraform-provider-hikube"), "the trace log holds no provider lines");
    let state = std::fs::read_to_string(workspace.path().join("terraform.tfstate")).unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen.helm_command_lines.is_empty(), "no helm process was seen running");
    assert!(!seen.temp_files.is_empty(), "no temp file of the provider was seen");

    // The admin password the provider generated, from the one place it belongs.
    let admin_secret = workspace.resource("hikube_kafka_cluster.kafka")["admin_secret"].as_str().unwrap().to_string();
    assert_eq!(admin_secret, format!("{namespace}/kafka-kafka-admin"));
    let encoded = check(
        stack.kubectl(&["-n", &namespace, "get", "secret", "kafka-kafka-admin", "-o", "jsonpath={.data.password}"]),
        "read the admin Secret",
    );
    let admin_password =
        String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim()).unwrap())
            .unwrap();
    assert_eq!(admin_password.len(), 32, "a generated admin password");
    let secrets = [
        ("SASL password", password.as_str()),
        ("TLS client key", client_key.trim()),
        ("kube token", token.as_str()),
        ("user password", user_password.as_str()),
        ("cluster admin password", admin_password.as_str()),
    ];
    let mut places: Vec<(String, String)> = vec![
        ("the trace log".into(), log),
        ("the CLI's output".into(), printed),
        ("the state".into(), state),
        ("the saved plan".into(), workspace.saved_plan_text("tfplan")),
        ("the plan as JSON".into(), check(workspace.terraform(&["show", "-json", "tfplan"]), "terraform show -json")),
    ];
    places.push((
        "the namespace's ConfigMaps".into(),
        check(stack.kubectl(&["-n", &namespace, "get", "configmaps", "-o", "yaml"]), "read the ConfigMaps"),
    ));
    for release in ["zk-zookeeper", "kafka-kafka"] {
        let mut all = std::process::Command::new(&stack.helm);
        all.args(["get", "all", release, "-n", &namespace]);
        places.push((
            format!("Helm release {release} (values and manifest)"),
            check(support::run(&mut all), "helm get all"),
        ));
    }
    places.extend(seen.helm_command_lines.iter().map(|l| ("helm's command line".to_string(), l.clone())));
    places.extend(seen.temp_files.iter().map(|(p, (_, c))| (format!("temp file {}", p.display()), c.clone())));
    let found = secrets_found(&places, &secrets);
    assert!(found.is_empty(), "secrets found: {found:?}");
    for (path, (mode, _)) in &seen.temp_files {
        assert_eq!(*mode, 0o600, "{} has mode {mode:o}", path.display());
    }
    let left: Vec<PathBuf> = walk(&provider_temp);
    assert!(left.is_empty(), "temp files left behind: {left:?}");
    eprintln!(
        "searched {} places ({} helm command lines, {} temp files) for {} secrets: none found",
        places.len(),
        seen.helm_command_lines.len(),
        seen.temp_files.len(),
        secrets.len()
    );

    workspace.destroy();
    stack.kubectl(&["delete", "clusterrolebinding", &namespace]);
}

/// A resource's own connection, with credentials by reference only: a password from an
/// environment variable with a client key from another, and a password from a Kubernetes
/// Secret. Rotated out of band, the stale credentials fail the refresh with the broker's answer;
/// once the variable and the Secret hold the new password, refresh, plan and apply work with no
/// change to the configuration, and neither password nor the key is in the state, the plan (saved
/// and as JSON), the trace log or what the CLI printed.
#[test]
fn connection_credentials_by_reference_survive_a_rotation() {
    let Some(stack) = Stack::from_env() else { return };
    let namespace = unique("conn-secrets");
    let _cleanup = stack.namespace_cleanup(&namespace);
    check(stack.kubectl(&["create", "namespace", &namespace]), "create namespace");
    let (user, prefix) = (unique("conn-user"), unique("rotated"));
    let _topics = stack.topic_cleanup(&[&prefix]);
    let (first, second) = (unique("first-conn-password"), unique("second-conn-password"));
    let (client_key, client_cert) = client_key_and_cert();

    // The connection's user, made and later rotated by another configuration: out of band for
    // the one under test.
    let owner = |password: &str, version: u32| {
        let owner = Workspace::new(&stack).env("TF_VAR_password", password);
        owner.write(&format!(
            "{}\nvariable \"password\" {{\n  type      = string\n  sensitive = true\n}}\n\n\
             resource \"hikube_kafka_user\" \"conn\" {{\n  name                = {user:?}\n  \
             password_wo         = var.password\n  password_wo_version = {version}\n}}\n\n\
             resource \"hikube_kafka_acl\" \"conn\" {{\n  resource_type                = \"Topic\"\n  \
             resource_name                = {prefix:?}\n  resource_pattern_type_filter = \"Prefixed\"\n  \
             acl_principal                = \"User:{user}\"\n  acl_host                     = \"*\"\n  \
             acl_operation                = \"All\"\n  acl_permission_type          = \"Allow\"\n}}\n",
            support::terraform::plaintext_provider(&stack)
        ));
        owner
    };
    let owner_first = owner(&first, 1);
    owner_first.apply();
    let secret = |password: &str| {
        let manifest = check(
            stack.kubectl(&[
                "-n",
                &namespace,
                "create",
                "secret",
                "generic",
                "conn",
                &format!("--from-literal=username={user}"),
                &format!("--from-literal=password={password}"),
                "--dry-run=client",
                "-o",
                "yaml",
            ]),
            "render the credentials Secret",
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), manifest).unwrap();
        check(stack.kubectl(&["apply", "-f", file.path().to_str().unwrap()]), "apply the credentials Secret");
    };
    secret(&first);

    let temp_dir = tempfile::tempdir().unwrap();
    let log_file = temp_dir.path().join("terraform.log");
    let servers = stack.sasl_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let kafka_ca = std::fs::read_to_string(&stack.kafka_ca).unwrap();
    let config = |retention: u32| {
        format!(
            r#"terraform {{
  required_providers {{
    hikube = {{ source = "hikube/hikube" }}
  }}
}}

provider "hikube" {{
  namespace = {namespace:?}
}}

resource "hikube_kafka_topic" "from_env" {{
  name       = "{prefix}-env"
  partitions = 1
  config     = {{ "retention.ms" = "{retention}" }}
  kafka = {{
    bootstrap_servers = [{servers}]
    tls = {{
      ca_cert        = {kafka_ca:?}
      client_cert    = {client_cert:?}
      client_key_env = "HIKUBE_CONN_CLIENT_KEY"
    }}
    sasl = {{
      mechanism    = "SCRAM-SHA-512"
      username     = {user:?}
      password_env = "HIKUBE_CONN_PASSWORD"
    }}
  }}
}}

resource "hikube_kafka_topic" "from_secret" {{
  name       = "{prefix}-secret"
  partitions = 1
  config     = {{ "retention.ms" = "{retention}" }}
  kafka = {{
    bootstrap_servers = [{servers}]
    tls               = {{ ca_cert = {kafka_ca:?} }}
    sasl              = {{ credentials_secret = "{namespace}/conn" }}
  }}
}}
"#
        )
    };
    let mut workspace = Workspace::new(&stack)
        .env("TF_LOG", "trace")
        .env("TF_LOG_PATH", log_file.to_str().unwrap())
        .env("HIKUBE_CONN_PASSWORD", &first)
        .env("HIKUBE_CONN_CLIENT_KEY", &client_key);
    workspace.write(&config(3_600_000));
    let mut printed = String::new();
    let mut run = |workspace: &Workspace, args: &[&str]| {
        let output = workspace.terraform(args);
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        printed.push_str(&text);
        (output.status.code(), text)
    };
    let (code, text) = run(&workspace, &["plan", "-no-color", "-input=false", "-out=tfplan"]);
    assert_eq!(code, Some(0), "{text}");
    let saved_plan = |workspace: &Workspace| {
        let json = check(workspace.terraform(&["show", "-json", "tfplan"]), "terraform show -json tfplan");
        format!("{}\n{json}", workspace.saved_plan_text("tfplan"))
    };
    let mut plans = vec![saved_plan(&workspace)];
    let (code, text) = run(&workspace, &["apply", "-no-color", "-input=false", "tfplan"]);
    assert_eq!(code, Some(0), "{text}");

    // Rotated out of band: the stale password no longer gets in.
    let owner_second = owner(&second, 2);
    std::fs::copy(owner_first.path().join("terraform.tfstate"), owner_second.path().join("terraform.tfstate")).unwrap();
    owner_second.apply();
    let (code, text) = run(&workspace, &["plan", "-no-color", "-input=false"]);
    assert_eq!(code, Some(1), "a refresh with the rotated-out password should fail:\n{text}");
    for topic in ["from_env", "from_secret"] {
        let refused = format!("with hikube_kafka_topic.{topic}");
        let failed =
            text.split("Error: ").any(|error| error.contains("SASL authentication failed") && error.contains(&refused));
        assert!(failed, "the refresh of {topic} should fail on the stale password:\n{text}");
    }

    // The variable and the Secret hold the new password; the configuration is the same.
    secret(&second);
    workspace.set_env("HIKUBE_CONN_PASSWORD", &second);
    let (code, text) = run(&workspace, &["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(code, Some(0), "refresh after the rotation should work and find nothing to change:\n{text}");
    workspace.write(&config(7_200_000));
    let (code, text) = run(&workspace, &["plan", "-no-color", "-input=false", "-out=tfplan"]);
    assert_eq!(code, Some(0), "{text}");
    plans.push(saved_plan(&workspace));
    let (code, text) = run(&workspace, &["apply", "-no-color", "-input=false", "tfplan"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&workspace, &["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(code, Some(0), "{text}");
    for topic in ["env", "secret"] {
        let described = check(
            stack.kafka_tool(
                "kafka.admin.ConfigCommand",
                &[
                    "--bootstrap-server",
                    &stack.plain_bootstrap,
                    "--describe",
                    "--entity-type",
                    "topics",
                    "--entity-name",
                    &format!("{prefix}-{topic}"),
                ],
            ),
            "kafka-configs --describe",
        );
        assert!(described.contains("retention.ms=7200000"), "{described}");
    }

    let mut places = vec![
        ("the trace log".to_string(), std::fs::read_to_string(&log_file).unwrap()),
        ("the CLI's output".to_string(), printed),
        ("the state".to_string(), std::fs::read_to_string(workspace.path().join("terraform.tfstate")).unwrap()),
    ];
    places.extend(plans.into_iter().map(|plan| ("a plan (saved, and as JSON)".to_string(), plan)));
    assert!(places[0].1.contains("provider.terraform-provider-hikube"), "the trace log holds no provider lines");
    let secrets =
        [("first password", first.as_str()), ("second password", second.as_str()), ("client key", &client_key)];
    let found = secrets_found(&places, &secrets);
    assert!(found.is_empty(), "secrets found: {found:?}");
    eprintln!("searched {} places for 2 passwords and a client key: none found", places.len());
    workspace.destroy();
    owner_second.destroy();
}
