use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn roundtrip(value: &Value, ty: &Type) -> Value {
    let bytes = encode_msgpack(value, ty).expect("encodes");
    decode_msgpack(&bytes, ty).expect("decodes")
}

fn topic_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("partitions", Type::Number),
        ("config", Type::map(Type::String)),
        ("tags", Type::set(Type::String)),
        ("enabled", Type::Bool),
    ])
}

#[test]
fn object_with_every_primitive_roundtrips() {
    let value = Value::Object(BTreeMap::from([
        ("name".into(), Value::string("orders")),
        ("partitions".into(), Value::int(12)),
        ("config".into(), Value::Map(BTreeMap::from([("cleanup.policy".into(), Value::string("compact"))]))),
        ("tags".into(), Value::Set(vec![Value::string("a"), Value::string("b")])),
        ("enabled".into(), Value::Bool(true)),
    ]));
    assert_eq!(roundtrip(&value, &topic_type()), value);
}

#[test]
fn missing_object_attributes_decode_as_null() {
    let bytes = encode_msgpack(
        &Value::Object(BTreeMap::from([("name".into(), Value::string("x"))])),
        &Type::object([("name", Type::String)]),
    )
    .unwrap();
    let value = decode_msgpack(&bytes, &Type::object([("name", Type::String), ("extra", Type::Number)])).unwrap();
    assert_eq!(value.attr("extra"), &Value::Null);
}

#[test]
fn plain_unknown_is_fixext_zero() {
    assert_eq!(encode_msgpack(&Value::unknown(), &Type::String).unwrap(), vec![0xd4, 0, 0]);
    assert_eq!(decode_msgpack(&[0xd4, 0, 0], &Type::Number).unwrap(), Value::unknown());
}

#[test]
fn refined_unknowns_roundtrip() {
    let string =
        Value::Unknown(Refinements { null: Some(false), string_prefix: Some("kafka-".into()), ..Default::default() });
    assert_eq!(roundtrip(&string, &Type::String), string);
    let number = Value::Unknown(Refinements {
        number_min: Some((Number::Int(1), true)),
        number_max: Some((Number::Decimal("1e30".into()), false)),
        ..Default::default()
    });
    let decoded = roundtrip(&number, &Type::Number);
    let Value::Unknown(r) = decoded else { panic!("not unknown") };
    assert_eq!(r.number_min, Some((Number::Int(1), true)));
    assert_eq!(r.number_max.unwrap().0.to_decimal(), "1000000000000000000000000000000");
    let list = Value::Unknown(Refinements { length_min: Some(1), length_max: Some(3), ..Default::default() });
    assert_eq!(roundtrip(&list, &Type::list(Type::String)), list);
}

#[test]
fn refinement_for_the_wrong_type_is_an_error() {
    // ext 12 body {2: "x"}: a string prefix on a number.
    let bytes = [0xd6, 0x0c, 0x81, 0x02, 0xa1, b'x'];
    assert!(decode_msgpack(&bytes, &Type::Number).is_err());
}

#[test]
fn numbers_beyond_i64_and_fractions_keep_their_precision() {
    // cty sends such numbers as decimal strings.
    let mut bytes = Vec::new();
    rmp::encode::write_str(&mut bytes, "123456789012345678901234567890.000000000000000000001").unwrap();
    let value = decode_msgpack(&bytes, &Type::Number).unwrap();
    assert_eq!(value, Value::Number(Number::Decimal("123456789012345678901234567890.000000000000000000001".into())));
    assert_eq!(encode_msgpack(&value, &Type::Number).unwrap(), bytes);
    let mut u64_max = vec![0xcf];
    u64_max.extend_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(decode_msgpack(&u64_max, &Type::Number).unwrap(), Value::Number(Number::Decimal(u64::MAX.to_string())));
    assert_eq!(roundtrip(&Value::Number(Number::Float(0.5)), &Type::Number), Value::Number(Number::Float(0.5)));
}

#[test]
fn dynamic_values_carry_their_type() {
    let value = Value::List(vec![Value::string("a")]);
    let bytes = encode_msgpack(&value, &Type::Dynamic).unwrap();
    assert_eq!(decode_msgpack(&bytes, &Type::Dynamic).unwrap(), value);
}

#[test]
fn dynamic_collections_with_mixed_elements_roundtrip() {
    let value = Value::Map(BTreeMap::from([("a".into(), Value::string("x")), ("b".into(), Value::int(1))]));
    let bytes = encode_msgpack(&value, &Type::Dynamic).unwrap();
    assert_eq!(decode_msgpack(&bytes, &Type::Dynamic).unwrap(), value);
}

#[test]
fn tuples_roundtrip() {
    let ty = Type::Tuple(vec![Type::String, Type::Number]);
    let value = Value::Tuple(vec![Value::string("a"), Value::int(-7)]);
    assert_eq!(roundtrip(&value, &ty), value);
}

#[test]
fn malformed_input_is_an_error() {
    let cases: &[(&[u8], Type)] = &[
        (&[], Type::String),
        (&[0xc1], Type::String),
        (&[0xa5, b'a'], Type::String),
        (&[0xa1, 0xff], Type::String),
        (&[0x92, 0x01], Type::list(Type::Number)),
        (&[0xdd, 0xff, 0xff, 0xff, 0xff], Type::list(Type::Number)),
        (&[0x81, 0xa1, b'z', 0x01], Type::object([("a", Type::Number)])),
        (&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1], Type::Number),
        (&[0xa3, b'a', b'b', b'c'], Type::Number),
        (&[0xc3, 0x00], Type::Bool),
        (&[0xd5, 0x07, 0x00, 0x00], Type::String),
    ];
    for (bytes, ty) in cases {
        assert!(decode_msgpack(bytes, ty).is_err(), "{bytes:?} as {}", ty.to_json());
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let ty = (0..200).fold(Type::String, |inner, _| Type::list(inner));
    let mut bytes = vec![0x91; 200];
    bytes.push(0xa0);
    assert!(decode_msgpack(&bytes, &ty).is_err());
}

#[test]
fn json_state_decodes_with_exact_numbers() {
    let ty = topic_type();
    let json =
        br#"{"name":"orders","partitions":12345678901234567890123,"config":{"a":"b"},"tags":null,"enabled":false}"#;
    let value = decode_json(json, &ty).unwrap();
    assert_eq!(value.attr("partitions"), &Value::Number(Number::Decimal("12345678901234567890123".into())));
    assert_eq!(value.attr("tags"), &Value::Null);
    assert!(decode_json(br#"{"nope":1}"#, &ty).is_err());
}

#[test]
fn type_json_roundtrips() {
    let ty = Type::object([("a", Type::list(Type::map(Type::Bool))), ("b", Type::Tuple(vec![Type::Dynamic]))]);
    assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
    assert!(Type::from_json_bytes(br#"["list"]"#).is_err());
}

fn arb_value(ty: Type) -> BoxedStrategy<Value> {
    let leaf_or_special = |known: BoxedStrategy<Value>| {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::unknown()), 6 => known].boxed()
    };
    match ty {
        Type::String => leaf_or_special(any::<String>().prop_map(Value::String).boxed()),
        Type::Bool => leaf_or_special(any::<bool>().prop_map(Value::Bool).boxed()),
        Type::Number => leaf_or_special(
            prop_oneof![
                any::<i64>().prop_map(Value::int),
                (-1e300f64..1e300).prop_map(|f| Value::Number(Number::from_f64(f))),
                "[1-9][0-9]{19,40}(\\.[0-9]{0,20}[1-9])?".prop_map(|s| Value::Number(Number::parse(&s).unwrap())),
            ]
            .boxed(),
        ),
        Type::List(elem) => {
            leaf_or_special(prop::collection::vec(arb_value(*elem), 0..4).prop_map(Value::List).boxed())
        }
        Type::Map(elem) => leaf_or_special(
            prop::collection::btree_map("[a-z.]{0,8}", arb_value(*elem), 0..4).prop_map(Value::Map).boxed(),
        ),
        Type::Object(attrs) => {
            let strategies: Vec<_> =
                attrs.into_iter().map(|(k, t)| arb_value(t).prop_map(move |v| (k.clone(), v))).collect();
            leaf_or_special(strategies.prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed())
        }
        other => unreachable!("no strategy for {other:?}"),
    }
}

fn nested_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("n", Type::Number),
        ("flags", Type::list(Type::Bool)),
        ("config", Type::map(Type::String)),
        ("inner", Type::object([("x", Type::Number), ("ys", Type::list(Type::map(Type::Number)))])),
    ])
}

proptest! {
    #[test]
    fn any_value_roundtrips(value in arb_value(nested_type())) {
        prop_assert_eq!(roundtrip(&value, &nested_type()), value);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_msgpack(&bytes, &nested_type());
        let _ = decode_msgpack(&bytes, &Type::Dynamic);
        let _ = decode_json(&bytes, &nested_type());
    }
}

/// Reading through an unknown object used to give Null, so a provider block whose `kubernetes`
/// came from a resource read as "not configured" and fell back to the local kubeconfig.
#[test]
fn attributes_of_an_unknown_object_are_unknown_not_absent() {
    let unknown = Value::unknown();
    assert!(unknown.attr("config_path").is_unknown());
    assert!(unknown.attr("tls").attr("ca_cert").is_unknown());
    assert!(Value::Null.attr("config_path").is_null());
    assert!(Value::string("x").attr("config_path").is_null());
}

/// Refinements a later Terraform adds are skipped whatever they hold, extensions included;
/// one that is not a whole item is an error.
#[test]
fn unknown_refinements_of_any_kind_are_skipped() {
    let ext_in_refinement = [0xc7, 0x05, 0x0c, 0x81, 0x07, 0xd4, 0x00, 0x00];
    assert!(matches!(decode_msgpack(&ext_in_refinement, &Type::String), Ok(Value::Unknown(_))));
    let nested = [0xc7, 0x07, 0x0c, 0x81, 0x09, 0x92, 0xc4, 0x01, 0xff, 0xcb];
    assert!(decode_msgpack(&nested, &Type::String).is_err(), "a float cut short");
    let mixed = [0xc7, 0x0b, 0x0c, 0x81, 0x09, 0x93, 0xc4, 0x01, 0xff, 0xc0, 0xd6, 0x01, 0, 0];
    assert!(decode_msgpack(&mixed, &Type::String).is_err(), "the extension claims more than the body");
    let whole = [0xc7, 0x0a, 0x0c, 0x81, 0x09, 0x93, 0xc4, 0x01, 0xff, 0xc0, 0xd4, 0x01, 0x00];
    assert!(matches!(decode_msgpack(&whole, &Type::String), Ok(Value::Unknown(_))));
}
