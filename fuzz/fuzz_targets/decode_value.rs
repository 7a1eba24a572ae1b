//! Terraform's value decoders on arbitrary bytes: errors are fine, panics and hangs are not.
//! The first byte picks the type to decode with, so one corpus covers every shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_hikube::tfplugin::value::{Type, decode_json, decode_msgpack, encode_msgpack};

fn types() -> Vec<Type> {
    vec![
        Type::Dynamic,
        Type::String,
        Type::Number,
        Type::list(Type::map(Type::String)),
        Type::object([
            ("name", Type::String),
            ("partitions", Type::Number),
            ("config", Type::map(Type::String)),
            ("flags", Type::set(Type::Bool)),
            ("pair", Type::Tuple(vec![Type::String, Type::Number])),
            ("nested", Type::object([("x", Type::Dynamic)])),
        ]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, bytes)) = data.split_first() else { return };
    let types = types();
    let ty = &types[*selector as usize % types.len()];
    if let Ok(value) = decode_msgpack(bytes, ty) {
        // Whatever decodes must encode again and decode to the same value.
        let encoded = encode_msgpack(&value, ty).expect("a decoded value encodes");
        assert_eq!(decode_msgpack(&encoded, ty).expect("re-decodes"), value);
    }
    let _ = decode_json(bytes, ty);
});
