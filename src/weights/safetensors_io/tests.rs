//! Unit tests of the safetensors reader and writer, against the reference crate where it can judge.

use safetensors::{Dtype, SafeTensors};

use super::*;
use crate::weights::dtype::{ElementType, decode_le};
use crate::weights::tensor_set::{NamedTensor, TensorValues};
use crate::weights::test_files::{assert_mentions, error_text, fixture, reference};

/// A file from a header text and a data section.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Reading fails with a message that contains every one of `parts`.
fn assert_error(bytes: &[u8], parts: &[&str]) {
    assert_mentions(&error_text(read_safetensors(bytes)), parts);
}

fn tensor(shape: &[usize], values: TensorValues) -> NamedTensor {
    NamedTensor {
        shape: shape.to_vec(),
        values,
    }
}

fn sample_set() -> TensorSet {
    TensorSet::from([
        (
            "a.weight".into(),
            tensor(&[2, 2], TensorValues::Float(vec![1.0, -0.5, 3.25, 1e-3])),
        ),
        (
            "a.num_batches_tracked".into(),
            tensor(&[], TensorValues::Int(vec![7])),
        ),
        (
            "b.counts".into(),
            tensor(&[3], TensorValues::Int(vec![-(1 << 60), 0, 42])),
        ),
        ("empty".into(), tensor(&[0, 4], TensorValues::Float(vec![]))),
        (
            "scalar".into(),
            tensor(&[], TensorValues::Float(vec![f32::NAN])),
        ),
    ])
}

/// NaN != NaN, so compare bit patterns.
fn same_bits(a: &TensorSet, b: &TensorSet) -> bool {
    let bits = |set: &TensorSet| -> Vec<(String, Vec<usize>, Vec<u64>)> {
        set.iter()
            .map(|(k, t)| {
                let v = match &t.values {
                    TensorValues::Float(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
                    TensorValues::Int(v) => v.iter().map(|&x| x as u64 ^ (1 << 63)).collect(),
                };
                (k.clone(), t.shape.clone(), v)
            })
            .collect()
    };
    bits(a) == bits(b)
}

#[test]
fn shared_fixture_matches_the_reference_reader() {
    let bytes = reference("tinyunet_c1_s1_64x64.weights.safetensors");
    let set = read_safetensors(&bytes).expect("read");
    assert_eq!(set.len(), 434);
    let oracle = SafeTensors::deserialize(&bytes).expect("reference reader");
    for (name, view) in oracle.tensors() {
        let ours = &set[&name];
        assert_eq!(ours.shape, view.shape(), "{name}");
        let expected = decode_le(
            match view.dtype() {
                Dtype::F32 => ElementType::F32,
                Dtype::I64 => ElementType::I64,
                other => panic!("{name}: {other:?}"),
            },
            view.data(),
            &name,
        )
        .expect("decode");
        assert_eq!(ours.values, expected, "{name}");
    }
    let counter = &set["encoder1.cmrf.pwconv1.bn.num_batches_tracked"];
    assert_eq!(counter, &tensor(&[], TensorValues::Int(vec![7])));
}

#[test]
fn small_fixture_every_dtype() {
    let (set, metadata) =
        read_safetensors_with_metadata(&fixture("small.safetensors")).expect("read");
    assert_eq!(
        metadata,
        [("source".to_string(), "make_weights_fixtures.py".to_string())]
    );
    let float = |name: &str| match &set[name].values {
        TensorValues::Float(v) => v.clone(),
        other => panic!("{name}: {other:?}"),
    };
    let int = |name: &str| match &set[name].values {
        TensorValues::Int(v) => v.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(float("f16"), [1.5, -2.0, 65504.0]);
    assert_eq!(float("bf16")[..2], [1.5, -2.0]);
    assert!((float("bf16")[2] / 3.0e38 - 1.0).abs() < 1e-2);
    assert_eq!(float("f64"), [0.1, f32::NEG_INFINITY, 2.0]); // f64 → f32 rounding
    assert_eq!(int("i64"), [-(1 << 62), 0, 1 << 40]);
    assert_eq!(int("i32"), [-5, 7]);
    assert_eq!(int("i16"), [-300, 300]);
    assert_eq!(int("i8"), [-128, 127]);
    assert_eq!(int("u8"), [0, 255]);
    assert_eq!(int("u16"), [1, 65535]);
    assert_eq!(int("bool"), [1, 0, 1]);
    assert_eq!(set["scalar"], tensor(&[], TensorValues::Int(vec![7])));
    assert_eq!(set["empty"], tensor(&[0, 3], TensorValues::Float(vec![])));
}

#[test]
fn round_trip_f32() {
    let set = sample_set();
    let metadata = vec![
        ("format".to_string(), "pt".to_string()),
        ("b".into(), "\"quoted\"\n".into()),
    ];
    let bytes = write_safetensors(&set, &metadata).expect("write");
    let (back, meta_back) = read_safetensors_with_metadata(&bytes).expect("read");
    assert!(same_bits(&set, &back));
    let mut sorted = metadata.clone();
    sorted.sort();
    assert_eq!(meta_back, sorted);
    let oracle = SafeTensors::deserialize(&bytes).expect("reference reader");
    assert_eq!(oracle.tensor("a.weight").expect("a").dtype(), Dtype::F32);
    assert_eq!(oracle.tensor("b.counts").expect("b").dtype(), Dtype::I64);
    let (header_len, oracle_meta) = SafeTensors::read_metadata(&bytes).expect("meta");
    assert_eq!(header_len % 8, 0, "the header stays 8-byte aligned");
    assert_eq!(oracle_meta.metadata().as_ref().map(|m| m.len()), Some(2));
    // The same tensors and metadata give the same bytes every time, whatever the order given
    // (the safetensors crate alone writes its metadata in a random order).
    let reversed: Vec<_> = metadata.iter().rev().cloned().collect();
    for _ in 0..8 {
        assert_eq!(write_safetensors(&set, &reversed).expect("write"), bytes);
    }
    let twice = vec![metadata[0].clone(), metadata[0].clone()];
    assert!(write_safetensors(&set, &twice).is_err());
    // No metadata: no `__metadata__` key at all.
    let plain = write_safetensors(&set, &[]).expect("write");
    assert!(
        SafeTensors::read_metadata(&plain)
            .expect("meta")
            .1
            .metadata()
            .is_none()
    );
}

#[test]
fn round_trip_f16() {
    let mut set = sample_set();
    set.insert(
        "fine".into(),
        tensor(&[3], TensorValues::Float(vec![0.1, 1000.3, -65504.0])),
    );
    let bytes = write_safetensors_f16(&set, &[]).expect("write");
    assert_eq!(
        write_safetensors_as(&set, &[], FloatStorage::F16).expect("same"),
        bytes
    );
    let oracle = SafeTensors::deserialize(&bytes).expect("reference reader");
    assert_eq!(oracle.tensor("a.weight").expect("a").dtype(), Dtype::F16);
    assert_eq!(oracle.tensor("b.counts").expect("b").dtype(), Dtype::I64);
    let back = read_safetensors(&bytes).expect("read");
    let mut rounded = set.clone();
    for t in rounded.values_mut() {
        if let TensorValues::Float(v) = &mut t.values {
            v.iter_mut()
                .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
        }
    }
    assert!(same_bits(&rounded, &back));
    assert_eq!(back["b.counts"], set["b.counts"], "ints stay exact");
    let TensorValues::Float(w) = &back["a.weight"].values else {
        panic!("float")
    };
    assert_eq!(w[..3], [1.0, -0.5, 3.25], "exact in f16");
    assert!((w[3] - 1e-3).abs() < 1e-6, "rounded to f16");
    assert!(bytes.len() < write_safetensors(&set, &[]).expect("f32").len());
}

#[test]
fn write_errors() {
    let mut set = sample_set();
    set.insert("big".into(), tensor(&[1], TensorValues::Float(vec![1e5])));
    let message = write_safetensors_f16(&set, &[])
        .expect_err("overflow")
        .to_string();
    assert!(
        message.contains("tensor `big`") && message.contains("f16"),
        "{message}"
    );
    assert!(write_safetensors(&set, &[]).is_ok(), "f32 holds it");
    let bad_shape =
        TensorSet::from([("w".into(), tensor(&[2, 2], TensorValues::Float(vec![1.0])))]);
    let message = write_safetensors(&bad_shape, &[])
        .expect_err("shape")
        .to_string();
    assert!(
        message.contains("tensor `w`: shape [2, 2] does not match its 1 values"),
        "{message}"
    );
    let reserved =
        TensorSet::from([(METADATA_KEY.into(), tensor(&[], TensorValues::Int(vec![1])))]);
    let message = write_safetensors(&reserved, &[])
        .expect_err("reserved")
        .to_string();
    assert!(message.contains("`__metadata__`"), "{message}");
    let twice = [
        ("k".to_string(), "1".to_string()),
        ("k".to_string(), "2".to_string()),
    ];
    let message = write_safetensors(&sample_set(), &twice)
        .expect_err("twice")
        .to_string();
    assert!(
        message.contains("metadata key `k` is given twice"),
        "{message}"
    );
}

#[test]
fn header_errors_name_the_tensor() {
    let ok = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    assert!(read_safetensors(&file(ok, &[0; 8])).is_ok());
    assert_error(b"\x05\0\0", &["truncated", "3 bytes"]);
    let mut long = file(ok, &[0; 8]);
    long[..8].copy_from_slice(&1000u64.to_le_bytes());
    assert_error(&long, &["header length 1000 exceeds"]);
    let mut huge = file(ok, &[0; 8]);
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_error(&huge, &["exceeds"]);
    assert_error(
        &file("{\"w\": ", &[]),
        &["not valid JSON", "unexpected end"],
    );
    assert_error(
        &file("{\"w\":1} x", &[]),
        &["not valid JSON", "after the header"],
    );
    assert_error(&file("\u{0}", &[]), &["not valid JSON"]);
    let mut not_utf8 = file("{\"\"}", &[]);
    not_utf8[9] = 0xff;
    assert_error(&not_utf8, &["not UTF-8"]);
    assert_error(&file("[]", &[]), &["not a JSON object"]);
    let cases: &[(&str, usize, &[&str])] = &[
        (
            r#"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#,
            2,
            &["tensor `w` has unsupported dtype `F8_E4M3`", "F32, F16"],
        ),
        (
            r#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#,
            8,
            &["unsupported dtype `C64`"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            8,
            &["tensor `w`", "[0, 16] lie outside the 8-byte data section"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            8,
            &["tensor `w`", "lie outside"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
            &["tensor `w`", "shape [3] of F32 needs 12 bytes", "hold 8"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
            8,
            &["tensor `w`", "more than usize::MAX"],
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            12,
            &[
                "tensor `b`",
                "do not start where the previous tensor ends (byte 4)",
            ],
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            4,
            &["tensor `b`", "do not start"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            8,
            &["data section has 8 bytes but the tensors cover 4"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            &["names `w` twice"],
        ),
        (
            r#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#,
            4,
            &["tensor `w`: header entry has no `shape`"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            4,
            &["tensor `w`: `shape` is not an array of non-negative integers"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
            4,
            &["`shape` is not an array"],
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
            4,
            &["`data_offsets` has 1 numbers"],
        ),
        (
            r#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#,
            4,
            &["`dtype` is not a string"],
        ),
        (
            r#"{"w":[]}"#,
            0,
            &["tensor `w`: header entry is not a JSON object"],
        ),
        (
            r#"{"__metadata__":{"k":1}}"#,
            0,
            &["`__metadata__` value for `k` is not a string"],
        ),
        (
            r#"{"__metadata__":[]}"#,
            0,
            &["`__metadata__` is not a JSON object"],
        ),
        (
            r#"{"w":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}"#,
            8,
            &["tensor `w`: U64 value 18446744073709551615 does not fit"],
        ),
    ];
    for (header, data_len, parts) in cases {
        assert_error(&file(header, &vec![0xff; *data_len]), parts);
    }
}

#[test]
fn json_strings_and_nesting() {
    let header = r#" { "w\u00e9\ud83d\ude00\n\"" : {"data_offsets":[0,4],"shape":[1],"dtype":"I32","x":[null,true,false,{}]}, "__metadata__":{"k\/":"v\t"} }  "#;
    let (set, metadata) =
        read_safetensors_with_metadata(&file(header, &[1, 0, 0, 0])).expect("read");
    assert_eq!(set["wé😀\n\""].values, TensorValues::Int(vec![1]));
    assert_eq!(metadata, [("k/".to_string(), "v\t".to_string())]);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_error(&file(&deep, &[]), &["nesting too deep"]);
    for bad in [
        r#"{"\ud800"}"#,
        r#"{"\uzzzz"}"#,
        r#"{"\q"}"#,
        "{\"\u{1}\"}",
        r#"{"a":tru}"#,
    ] {
        assert_error(&file(bad, &[]), &["not valid JSON"]);
    }
    // The writer's escapes read back.
    let odd = TensorSet::from([(
        "é \"x\"\\\n\u{1}😀".into(),
        tensor(&[], TensorValues::Int(vec![3])),
    )]);
    let bytes = write_safetensors(&odd, &[("ключ".into(), "\u{7f}\"".into())]).expect("write");
    let (back, meta) = read_safetensors_with_metadata(&bytes).expect("read");
    assert_eq!(back, odd);
    assert_eq!(meta, [("ключ".to_string(), "\u{7f}\"".to_string())]);
}

#[test]
fn every_truncation_fails_without_panicking() {
    let small = fixture("small.safetensors");
    for cut in 0..small.len() {
        assert!(read_safetensors(&small[..cut]).is_err(), "cut {cut}");
    }
    let big = reference("tinyunet_c1_s1_64x64.weights.safetensors");
    for i in 0..64 {
        let cut = (big.len() * i / 64 + i).min(big.len() - 1);
        assert!(read_safetensors(&big[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn byte_flips_never_panic() {
    let small = fixture("small.safetensors");
    for at in 0..small.len() {
        for mask in [0x01, 0x02, 0x10, 0x80, 0xff] {
            let mut bytes = small.clone();
            bytes[at] ^= mask;
            let _ = read_safetensors(&bytes);
        }
    }
}
