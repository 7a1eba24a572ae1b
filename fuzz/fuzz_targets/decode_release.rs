//! The Helm release-Secret parser on arbitrary bytes: the provider reads these Secrets from a
//! cluster anyone with access may have written to, so errors are fine, panics and hangs are not.
//! The first byte picks the layer to start from, so that mutations reach the JSON and the
//! manifest's YAML rather than dying at base64.
#![no_main]

use std::io::Write;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use terraform_provider_hikube::helm::{decode_release_secret, manifest_objects};

fn wrap(json: &[u8], gzip: bool) -> Vec<u8> {
    let body = if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(json).expect("gzip into memory");
        gz.finish().expect("gzip into memory")
    } else {
        json.to_vec()
    };
    base64::engine::general_purpose::STANDARD.encode(body).into_bytes()
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, bytes)) = data.split_first() else { return };
    let payload = match selector % 4 {
        0 => bytes.to_vec(),
        1 => wrap(bytes, true),
        2 => wrap(bytes, false),
        _ => {
            let _ = manifest_objects(&String::from_utf8_lossy(bytes));
            return;
        }
    };
    if let Ok(release) = decode_release_secret(&payload) {
        let _ = manifest_objects(&release.manifest);
    }
});
