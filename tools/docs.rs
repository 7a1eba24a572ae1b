//! Writes the registry pages under `docs/` from the provider's schemas and the examples:
//! `cargo run --example docs [ROOT]`. A development tool, kept out of the shipped binary; the
//! docs test checks that the committed pages are what it writes.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let root = Path::new(&root);
    let written = terraform_provider_hikube::docs::render(root).and_then(|pages| {
        for (path, page) in pages {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("pages live in docs/"))?;
            std::fs::write(&path, page)?;
            println!("wrote {}", path.display());
        }
        Ok(())
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("writing docs failed: {e}");
            ExitCode::FAILURE
        }
    }
}
