//! The embedded charts: `helm lint` and `helm template` are clean, and their schemas refuse
//! bad values before anything reaches a cluster.

mod support;

use support::{Stack, check};

const CHARTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts");

fn chart(name: &str) -> String {
    format!("{CHARTS}/{name}")
}

#[test]
fn charts_lint_and_render_cleanly() {
    let stack = Stack::from_env();
    for (name, args) in [("zookeeper", vec![]), ("kafka", vec!["--set", "zookeeper.connect=zk:2181"])] {
        let mut lint = vec!["lint", "--strict"];
        let path = chart(name);
        lint.push(&path);
        lint.extend(&args);
        let linted = check(stack.helm(&lint), &format!("helm lint {name}"));
        assert!(linted.contains("0 chart(s) failed"), "{linted}");
        let mut template = vec!["template", "release", path.as_str()];
        template.extend(&args);
        let rendered = check(stack.helm(&template), &format!("helm template {name}"));
        for kind in ["StatefulSet", "ConfigMap", "Service", "PodDisruptionBudget"] {
            assert!(rendered.contains(&format!("kind: {kind}")), "{name} renders a {kind}");
        }
    }
}

#[test]
fn schemas_refuse_bad_values() {
    let stack = Stack::from_env();
    let cases = [
        ("zookeeper", vec!["--set", "replicas=4"]),
        ("zookeeper", vec!["--set", "resourcesPreset=huge"]),
        ("zookeeper", vec!["--set", "storage.size=lots"]),
        ("kafka", vec![]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181/chroot"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "external.enabled=true"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "tls.enabled=true"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "config.retention=1"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "unknown=1"]),
    ];
    for (name, args) in cases {
        let path = chart(name);
        let mut template = vec!["template", "release", path.as_str()];
        template.extend(&args);
        let output = stack.helm(&template);
        assert!(!output.status.success(), "{name} {args:?} must be refused");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("schema"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
