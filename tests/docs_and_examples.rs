//! The registry docs match what the schemas render, and every example is valid Terraform for
//! this provider.

mod support;

use std::path::Path;

use support::terraform::Workspace;
use support::{Stack, check, stdout};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn committed_docs_match_the_schemas() {
    let pages = terraform_provider_hikube::docs::render(Path::new(ROOT)).expect("render docs");
    for (path, rendered) in &pages {
        let committed = std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_default();
        assert!(
            committed == *rendered,
            "{} is out of date: run `cargo run --example docs` and commit the result",
            path.display()
        );
    }
    for folder in ["docs/resources", "docs/data-sources"] {
        let on_disk = std::fs::read_dir(Path::new(ROOT).join(folder)).unwrap().count();
        let rendered = pages.keys().filter(|p| p.starts_with(folder)).count();
        assert_eq!(on_disk, rendered, "{folder} holds a page per resource or data source and nothing else");
    }
}

/// Every directory under examples/ that holds .tf files.
fn example_dirs(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    let mut has_tf = false;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != ".terraform") {
            example_dirs(&path, found);
        } else if path.extension().is_some_and(|e| e == "tf") {
            has_tf = true;
        }
    }
    if has_tf {
        found.push(dir.to_path_buf());
    }
}

#[test]
fn every_example_passes_terraform_validate() {
    let Some(stack) = Stack::from_env() else { return };
    let mut dirs = Vec::new();
    example_dirs(&Path::new(ROOT).join("examples"), &mut dirs);
    assert!(!dirs.is_empty());
    for dir in dirs {
        let ws = Workspace::new(&stack);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, ws.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        let has_provider_block = std::fs::read_dir(ws.path())
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .any(|text| text.contains("required_providers"));
        if !has_provider_block {
            std::fs::write(
                ws.path().join("versions.tf"),
                "terraform {\n  required_providers {\n    hikube = { source = \"hikube/hikube\" }\n  }\n}\n",
            )
            .unwrap();
        }
        // Local modules are fetched by `terraform get`; the provider comes from dev_overrides.
        if dir.starts_with(Path::new(ROOT).join("examples/environments")) {
            bring_modules(&ws);
        }
        check(ws.terraform(&["get", "-no-color"]), &format!("terraform get in {}", dir.display()));
        check(ws.terraform(&["validate", "-no-color"]), &format!("terraform validate of {}", dir.display()));
    }
}

/// An environment copied out of the repository still finds the module it promotes.
fn bring_modules(ws: &Workspace) {
    copy_dir(&Path::new(ROOT).join("examples/modules"), &ws.path().join("modules"));
    let main = std::fs::read_to_string(ws.path().join("main.tf")).unwrap().replace("../../modules", "./modules");
    std::fs::write(ws.path().join("main.tf"), main).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// `-var` value for the brokers Terraform reaches: the stack's own, since kwok runs no Kafka.
fn brokers_var(stack: &Stack) -> String {
    let servers: Vec<String> = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!("kafka_bootstrap_servers=[{}]", servers.join(","))
}

#[test]
fn the_module_test_suite_passes_against_the_stack() {
    let Some(stack) = Stack::from_env() else { return };
    // The namespace the module's own test deploys into, gone when this test ends.
    let _cleanup = stack.namespace_cleanup("tftest-platform");
    let ws = Workspace::new(&stack);
    copy_dir(&Path::new(ROOT).join("examples/modules/kafka-platform"), ws.path());
    let output = check(ws.terraform(&["test", "-no-color", "-var", &brokers_var(&stack)]), "terraform test");
    assert!(output.contains("2 passed, 0 failed"), "{output}");
}

/// The quickstart as scripts/quickstart runs it: the ensemble and the cluster as running pods on
/// the stack's real node, then the topics, the application user and its ACLs on that cluster's
/// own brokers, reached through the API server (terraform runs without the cluster's DNS),
/// signed in as the cluster's admin.
#[test]
fn the_quickstart_applies_on_the_stack_and_plans_no_change_after() {
    let Some(stack) = Stack::from_env() else { return };
    let ws = Workspace::new(&stack).env("TF_VAR_app_password", &support::unique("app-password"));
    copy_dir(&Path::new(ROOT).join("examples/quickstart"), ws.path());
    let namespace = support::unique("qs");
    stack.real_namespace(&namespace);
    let _cleanup = stack.namespace_cleanup(&namespace);
    let vars = [
        "-var",
        &format!("namespace={namespace}"),
        "-var",
        &format!("topic_prefix={namespace}-"),
        "-var",
        "storage_class=hikube-local",
        "-var",
        r#"zookeeper_resources={ cpu = "150m", memory = "256Mi" }"#,
        "-var",
        r#"broker_resources={ cpu = "250m", memory = "1Gi" }"#,
    ];
    let mut apply = vec!["apply", "-auto-approve", "-no-color"];
    apply.extend(vars);
    let applied = check(ws.terraform(&apply), "apply the quickstart");
    assert!(applied.contains("Resources: 10 added"), "{applied}");
    let running = stdout(&stack.kubectl(&[
        "-n",
        &namespace,
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
    ]));
    assert_eq!(running.lines().filter(|l| *l == "hikube-node Running").count(), 6, "{running}");
    let mut plan = vec!["plan", "-detailed-exitcode", "-no-color"];
    plan.extend(vars);
    check(ws.terraform(&plan), "the quickstart plans no change after apply");
    let mut destroy = vec!["destroy", "-auto-approve", "-no-color"];
    destroy.extend(vars);
    check(ws.terraform(&destroy), "destroy the quickstart");
}

#[test]
fn the_dev_environment_promotes_the_module_on_the_stack() {
    let Some(stack) = Stack::from_env() else { return };
    let _cleanup = stack.namespace_cleanup("events-dev");
    let ws = Workspace::new(&stack);
    copy_dir(&Path::new(ROOT).join("examples/environments/dev"), ws.path());
    bring_modules(&ws);
    check(ws.terraform(&["get", "-no-color"]), "terraform get");
    let var = brokers_var(&stack);
    let applied = check(ws.terraform(&["apply", "-auto-approve", "-no-color", "-var", &var]), "apply dev");
    assert!(
        applied.contains("dev-orders") && applied.contains("dev-payments") && applied.contains("dev-notifications"),
        "{applied}"
    );
    check(ws.terraform(&["plan", "-detailed-exitcode", "-no-color", "-var", &var]), "dev plans no change after apply");
    check(ws.terraform(&["destroy", "-auto-approve", "-no-color", "-var", &var]), "destroy dev");
}
