//! Every broker response the client decodes, on arbitrary bytes: a broker, or anyone answering
//! in its place before the client has authenticated, controls them. Errors are fine; panics,
//! hangs and allocations out of proportion to the input are not (libFuzzer's malloc limit
//! catches those). The first byte picks the API and the second its version.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use terraform_provider_hikube::kafka::{APIS, decode_any_response};

fuzz_target!(|data: &[u8]| {
    let [api, version, body @ ..] = data else { return };
    let (key, max_version) = APIS[usize::from(*api) % APIS.len()];
    let version = i16::from(*version) % (max_version + 1);
    let _ = decode_any_response(key, version, Bytes::copy_from_slice(body));
});
