use std::process::ExitCode;

use terraform_provider_hikube::resources::{HikubeProvider, PROVIDER_ADDRESS};
use terraform_provider_hikube::tfplugin;

const USAGE: &str = "usage: terraform-provider-hikube [--debug | --version | docs [ROOT]]

Terraform starts this provider itself. --debug serves it for a debugger and prints the
TF_REATTACH_PROVIDERS value to give Terraform. docs writes docs/ under ROOT (the current
directory by default) from the schemas and the examples.";

#[tokio::main]
async fn main() -> ExitCode {
    tfplugin::install_crypto_provider();
    tfplugin::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let served = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => tfplugin::serve(HikubeProvider::default()).await,
        ["--debug"] => tfplugin::serve_debug(HikubeProvider::default(), PROVIDER_ADDRESS).await,
        ["docs", rest @ ..] if rest.len() <= 1 => {
            let root = std::path::Path::new(rest.first().copied().unwrap_or("."));
            return match write_docs(root) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("writing docs failed: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        ["--version"] => {
            println!("terraform-provider-hikube {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    terraform_provider_hikube::helm::remove_extracted_charts();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn write_docs(root: &std::path::Path) -> std::io::Result<()> {
    for (path, page) in terraform_provider_hikube::docs::render(root)? {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("pages live in docs/"))?;
        std::fs::write(&path, page)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
