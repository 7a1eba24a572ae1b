use std::process::ExitCode;

use terraform_provider_hikube::resources::{HikubeProvider, PROVIDER_ADDRESS};
use terraform_provider_hikube::tfplugin;

const USAGE: &str = "usage: terraform-provider-hikube [--debug | --version]

Terraform starts this provider itself. --debug serves it for a debugger and prints the
TF_REATTACH_PROVIDERS value to give Terraform.";

#[tokio::main]
async fn main() -> ExitCode {
    tfplugin::install_crypto_provider();
    tfplugin::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let served = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => tfplugin::serve(HikubeProvider::default()).await,
        ["--debug"] => tfplugin::serve_debug(HikubeProvider::default(), PROVIDER_ADDRESS).await,
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
