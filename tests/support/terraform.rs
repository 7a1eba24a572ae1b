//! A Terraform working directory that runs the real CLI against the provider binary this crate
//! builds, through `dev_overrides`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{Stack, check, run};

/// The `terraform` and `provider` blocks of a configuration on the stack's plaintext listener.
pub fn plaintext_provider(stack: &Stack) -> String {
    let servers: Vec<String> = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\n\
         provider \"hikube\" {{\n  kafka = {{\n    bootstrap_servers = [{}]\n  }}\n}}\n",
        servers.join(", ")
    )
}

/// The `terraform` and `provider` blocks of a configuration whose releases go to `namespace`.
pub fn provider_in(namespace: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\n\
         provider \"hikube\" {{\n  namespace = {namespace:?}\n}}\n"
    )
}

pub struct Workspace {
    dir: tempfile::TempDir,
    terraform: PathBuf,
    env: Vec<(String, String)>,
}

impl Workspace {
    pub fn new(stack: &Stack) -> Workspace {
        Workspace::with_providers(stack, &[])
    }

    /// A workspace where other providers, too, come from local directories (`source`, directory).
    pub fn with_providers(stack: &Stack, others: &[(&str, &Path)]) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = Path::new(env!("CARGO_BIN_EXE_terraform-provider-hikube"));
        let overrides: String = [("hikube/hikube", binary.parent().unwrap())]
            .iter()
            .chain(others)
            .map(|(source, dir)| format!("    {source:?} = {:?}\n", dir.display().to_string()))
            .collect();
        let rc = format!("provider_installation {{\n  dev_overrides {{\n{overrides}  }}\n  direct {{}}\n}}\n");
        std::fs::write(dir.path().join(".terraformrc"), rc).unwrap();
        Workspace { dir, terraform: stack.terraform.clone(), env: Vec::new() }
    }

    /// An environment variable for every Terraform run, e.g. `TF_VAR_…` for a secret that must
    /// not be written into the configuration.
    pub fn env(mut self, key: &str, value: &str) -> Workspace {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets an environment variable for the runs from now on, in place of its earlier value.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// The same working directory with one more environment variable.
    pub fn clone_with_env(&self, key: &str, value: &str) -> WorkspaceView<'_> {
        WorkspaceView { workspace: self, extra: (key.to_string(), value.to_string()) }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the configuration with `main.tf`.
    pub fn write(&self, main_tf: &str) {
        std::fs::write(self.dir.path().join("main.tf"), main_tf).unwrap();
    }

    /// The CLI in this directory with the provider override and the workspace's environment.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.terraform);
        command
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join(".terraformrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    pub fn terraform(&self, args: &[&str]) -> Output {
        run(self.command().args(args))
    }

    /// `terraform apply` running in the background, for faults injected while it works.
    pub fn spawn_apply(&self) -> std::process::Child {
        self.command()
            .args(["apply", "-auto-approve", "-no-color", "-input=false"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("terraform apply")
    }

    pub fn apply(&self) -> String {
        check(self.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]), "terraform apply")
    }

    pub fn destroy(&self) -> String {
        check(self.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]), "terraform destroy")
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 2 changes; the output for assertions.
    pub fn plan(&self) -> (i32, String) {
        let output = self.terraform(&["plan", "-detailed-exitcode", "-no-color", "-input=false"]);
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    }

    /// Runs a plan that must show changes, and returns its text.
    pub fn plan_with_changes(&self) -> String {
        let (code, text) = self.plan();
        assert_eq!(code, 2, "expected changes:\n{text}");
        text
    }

    pub fn assert_no_changes(&self) {
        let (code, text) = self.plan();
        assert_eq!(code, 0, "expected an empty plan:\n{text}");
    }

    /// A plan or apply that must fail; returns what Terraform printed.
    pub fn expect_failure(&self, args: &[&str]) -> String {
        let output = self.terraform(args);
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!output.status.success(), "expected `terraform {}` to fail:\n{text}", args.join(" "));
        text
    }

    /// Every file of a saved plan (a zip archive, its values in msgpack) as text, for searching:
    /// its compressed bytes would hide what it holds.
    pub fn saved_plan_text(&self, name: &str) -> String {
        let unzip = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n\
                     sys.stdout.write(''.join(z.read(n).decode('latin-1') for n in z.namelist()))";
        let path = self.dir.path().join(name);
        check(run(Command::new("python3").args(["-c", unzip]).arg(&path)), "unzip the saved plan")
    }

    /// The state as `terraform show -json` reports it.
    pub fn state(&self) -> serde_json::Value {
        let json = check(self.terraform(&["show", "-json"]), "terraform show -json");
        serde_json::from_str(&json).expect("state JSON")
    }

    /// The attribute values of one resource in the state.
    pub fn resource(&self, address: &str) -> serde_json::Value {
        let state = self.state();
        let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
        resources
            .into_iter()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
            .unwrap_or(serde_json::Value::Null)
    }
}

pub struct WorkspaceView<'a> {
    workspace: &'a Workspace,
    extra: (String, String),
}

impl WorkspaceView<'_> {
    /// `terraform apply` with its stderr (where provider logs go) in the returned text.
    pub fn apply_logged(&self) -> String {
        let output = run(self.workspace.command().env(&self.extra.0, &self.extra.1).args([
            "apply",
            "-auto-approve",
            "-no-color",
            "-input=false",
        ]));
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "terraform apply failed:\n{text}");
        text
    }
}
