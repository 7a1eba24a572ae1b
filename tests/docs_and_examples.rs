//! The registry docs match what the schemas render, and every example is valid Terraform for
//! this provider.

mod support;

use std::path::Path;

use support::terraform::Workspace;
use support::{Stack, check};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn committed_docs_match_the_schemas() {
    let pages = terraform_provider_hikube::docs::render(Path::new(ROOT)).expect("render docs");
    for (path, rendered) in &pages {
        let committed = std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_default();
        assert!(
            committed == *rendered,
            "{} is out of date: run `cargo run -- docs` and commit the result",
            path.display()
        );
    }
    let on_disk = std::fs::read_dir(Path::new(ROOT).join("docs/resources")).unwrap().count();
    assert_eq!(on_disk, pages.len() - 1, "docs/resources holds a page per resource and nothing else");
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
    let stack = Stack::from_env();
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
        check(ws.terraform(&["validate", "-no-color"]), &format!("terraform validate of {}", dir.display()));
    }
}
