extern crate std;

use super::*;
use std::string::String;
use std::vec;
use std::vec::Vec;

/// Builds a file from a header and a data section.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn err(header: &str, data: &[u8]) -> SafeTensorsError {
    match SafeTensors::parse(&file(header, data)) {
        Ok(_) => panic!("header {header:?} unexpectedly parsed"),
        Err(e) => e,
    }
}

fn json_kind(header: &str, data: &[u8]) -> JsonErrorKind {
    match err(header, data) {
        SafeTensorsError::Json { kind, .. } => kind,
        other => panic!("header {header:?}: expected a JSON error, got {other:?}"),
    }
}

const BASIC: &str = r#"{"__metadata__":{"format":"pt","note":"a\"b"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}   "#;

fn basic_data() -> Vec<u8> {
    f32_bytes(&[1.0, 2.0, 3.0, 4.0, 0.5, -0.5])
}

#[test]
fn parses_a_basic_file() {
    let bytes = file(BASIC, &basic_data());
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.len(), 2);
    assert!(!st.is_empty());
    let w = st.get("w").unwrap();
    assert_eq!(w.name, "w");
    assert_eq!(w.dtype, Dtype::F32);
    assert_eq!(w.raw_dtype, "F32");
    assert_eq!(&*w.shape, &[2, 2]);
    assert_eq!(w.numel(), 4);
    assert_eq!(w.data, &f32_bytes(&[1.0, 2.0, 3.0, 4.0])[..]);
    let b = st.get("b").unwrap();
    assert_eq!(b.shape.as_slice(), &[2]);
    assert_eq!(b.data, &f32_bytes(&[0.5, -0.5])[..]);
    assert!(st.get("c").is_none());
    assert!(st.get("__metadata__").is_none());

    let names: Vec<&str> = st.tensors().map(|t| t.name).collect();
    assert_eq!(names, ["w", "b"]);
    assert_eq!(st.tensors().len(), 2);
    let meta: Vec<(&str, &str)> = st.metadata().collect();
    assert_eq!(meta, [("format", "pt"), ("note", r#"a\"b"#)]);
    assert_eq!(unescape(meta[1].1).collect::<String>(), "a\"b");
    assert_eq!(st.data().len(), 24);
    assert_eq!(st.header(), BASIC);
    // The free function is the same parser.
    assert_eq!(parse(&bytes).unwrap().len(), 2);
}

#[test]
fn whitespace_field_order_scalars_and_empty_tensors() {
    let header = " \t\r\n{ \"s\" : { \"shape\" : [ ] , \"data_offsets\" : [ 0 , 8 ] , \"dtype\" : \"I64\" } ,\n\
                  \"z\" : {\"dtype\":\"F16\",\"shape\":[3,0],\"data_offsets\":[8,8]} }\n  ";
    let bytes = file(header, &7i64.to_le_bytes());
    let st = SafeTensors::parse(&bytes).unwrap();
    let s = st.get("s").unwrap();
    assert_eq!(s.dtype, Dtype::I64);
    assert!(s.shape.is_empty());
    assert_eq!(s.numel(), 1);
    assert_eq!(s.data, &7i64.to_le_bytes());
    let z = st.get("z").unwrap();
    assert_eq!(z.numel(), 0);
    assert!(z.data.is_empty());
    assert!(st.metadata().next().is_none());

    // No tensors at all.
    let empty = file("{}", &[]);
    let st = SafeTensors::parse(&empty).unwrap();
    assert!(st.is_empty());
    assert_eq!(st.tensors().count(), 0);
    let meta_only = file(r#"{"__metadata__":{}}"#, &[]);
    let st = SafeTensors::parse(&meta_only).unwrap();
    assert!(st.is_empty());
}

#[test]
fn dtypes_and_sizes() {
    use SafeTensorsError as E;
    let cases = [
        ("BOOL", Dtype::Bool, 8),
        ("F4", Dtype::F4, 4),
        ("F6_E2M3", Dtype::F6E2M3, 6),
        ("F6_E3M2", Dtype::F6E3M2, 6),
        ("U8", Dtype::U8, 8),
        ("I8", Dtype::I8, 8),
        ("F8_E4M3", Dtype::F8E4M3, 8),
        ("F8_E5M2", Dtype::F8E5M2, 8),
        ("F8_E8M0", Dtype::F8E8M0, 8),
        ("U16", Dtype::U16, 16),
        ("I16", Dtype::I16, 16),
        ("F16", Dtype::F16, 16),
        ("BF16", Dtype::BF16, 16),
        ("U32", Dtype::U32, 32),
        ("I32", Dtype::I32, 32),
        ("F32", Dtype::F32, 32),
        ("U64", Dtype::U64, 64),
        ("I64", Dtype::I64, 64),
        ("F64", Dtype::F64, 64),
    ];
    for (name, dtype, bits) in cases {
        assert_eq!(dtype.bits(), bits);
        assert_eq!(dtype.size(), (bits % 8 == 0).then_some(bits / 8));
        assert_eq!(dtype.name(), name);
        // 4 elements fill whole bytes for every dtype.
        let n = 4 * bits / 8;
        let header =
            std::format!(r#"{{"t":{{"dtype":"{name}","shape":[4],"data_offsets":[0,{n}]}}}}"#);
        let bytes = file(&header, &vec![0; n]);
        let st = SafeTensors::parse(&bytes).unwrap();
        assert_eq!(st.get("t").unwrap().dtype, dtype);
    }
    // Sub-byte elements must fill whole bytes.
    assert_eq!(
        err(
            r#"{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
            &[0; 2]
        ),
        E::PartialByte {
            offset: 1,
            dtype: Dtype::F4,
            numel: 3
        }
    );
    // Unknown dtypes are rejected; matching is exact (case-sensitive).
    for d in ["f32", "F128", "Q4_0"] {
        let header = std::format!(r#"{{"t":{{"dtype":"{d}","shape":[1],"data_offsets":[0,1]}}}}"#);
        assert_eq!(err(&header, &[0]), E::UnknownDtype { offset: 1 });
    }
}

#[test]
fn escaped_names() {
    let raw = r#"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0041"#;
    let decoded = "a\"b\\c/d\n\té😀A";
    let header = std::format!(
        r#"{{"{raw}":{{"dtype":"U8","shape":[1],"data_offsets":[0,1]}},"plain":{{"d\u0074ype":"U8","shape":[1],"data_offsets":[1,2]}}}}"#
    );
    let bytes = file(&header, &[7, 8]);
    let st = SafeTensors::parse(&bytes).unwrap();
    let t = st.get(decoded).unwrap();
    assert_eq!(t.name, raw);
    assert_eq!(t.data, &[7]);
    assert!(t.name_matches(decoded));
    assert!(!t.name_matches(raw));
    assert_eq!(t.name_chars().collect::<String>(), decoded);
    #[cfg(feature = "alloc")]
    {
        assert_eq!(t.name_decoded(), decoded);
        assert!(matches!(
            st.get("plain").unwrap().name_decoded(),
            alloc::borrow::Cow::Borrowed("plain")
        ));
    }
    // The raw (escaped) spelling is not the name.
    assert!(st.get(raw).is_none());
    // Prefixes and extensions do not match.
    assert!(st.get(&decoded[..decoded.len() - 1]).is_none());
    assert!(st.get(&std::format!("{decoded}x")).is_none());
    // Escaped field names work too.
    assert_eq!(st.get("plain").unwrap().data, &[8]);

    // An escaped spelling of an existing name is a duplicate.
    let header = r#"{"AB":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\u0041B":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    assert!(matches!(
        err(header, &[0, 0]),
        SafeTensorsError::DuplicateTensor {
            offset: 54,
            first: 1
        }
    ));
    // An escaped "__metadata__" is the metadata entry.
    let header =
        r#"{"\u005f_metadata__":{"k":"v"},"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
    let bytes = file(header, &[0]);
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st.metadata().collect::<Vec<_>>(), [("k", "v")]);
}

#[test]
fn unescape_helpers() {
    assert!(unescaped_eq("plain", "plain"));
    assert!(!unescaped_eq("plain", "plai"));
    assert!(unescaped_eq(r"\u00E9\b\f\r", "é\u{8}\u{c}\r"));
    assert!(!unescaped_eq(r"\u00e9", "e"));
    // Malformed escapes (never produced by a validated header) decode to U+FFFD.
    assert_eq!(
        unescape(r"\x\ud800\u12").collect::<String>(),
        "\u{fffd}\u{fffd}\u{fffd}"
    );
    assert_eq!(
        unescape(r"\udc00a\").collect::<String>(),
        "\u{fffd}a\u{fffd}"
    );
    assert_eq!(unescape(r"\ud800\u0041").collect::<String>(), "\u{fffd}A");
}

#[test]
fn header_length_errors() {
    assert_eq!(
        SafeTensors::parse(&[]).unwrap_err(),
        SafeTensorsError::TooShort { file_len: 0 }
    );
    assert_eq!(
        SafeTensors::parse(&[1, 2, 3]).unwrap_err(),
        SafeTensorsError::TooShort { file_len: 3 }
    );
    let mut bytes = vec![0u8; 100];
    bytes[..8].copy_from_slice(&123_456u64.to_le_bytes());
    let e = SafeTensors::parse(&bytes).unwrap_err();
    assert_eq!(
        std::format!("{e}"),
        "safetensors header length 123456 exceeds the file size 100 bytes: \
         the file is truncated or not a safetensors file"
    );
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        SafeTensors::parse(&bytes),
        Err(SafeTensorsError::HeaderTooLarge {
            header_len: u64::MAX,
            file_len: 100
        })
    ));
    // 93 + 8 > 100: one byte short.
    bytes[..8].copy_from_slice(&93u64.to_le_bytes());
    assert!(matches!(
        SafeTensors::parse(&bytes),
        Err(SafeTensorsError::HeaderTooLarge { header_len: 93, .. })
    ));
    // Header cut in the middle.
    let full = file(BASIC, &basic_data());
    assert!(matches!(
        SafeTensors::parse(&full[..40]),
        Err(SafeTensorsError::HeaderTooLarge { .. })
    ));
    // The empty header is not a JSON object.
    assert_eq!(err("", &[]), SafeTensorsError::NotAnObject { offset: 0 });
}

#[test]
fn not_an_object() {
    for header in ["[]", "\"x\"", "42", "   ", "null", "true", "\u{feff}{}"] {
        assert!(
            matches!(err(header, &[]), SafeTensorsError::NotAnObject { .. }),
            "{header:?}"
        );
    }
    assert_eq!(
        err("  [1]", &[]),
        SafeTensorsError::NotAnObject { offset: 2 }
    );
}

#[test]
fn invalid_utf8() {
    let mut bytes = file("{\"ab\":1}", &[]);
    bytes[8 + 3] = 0xff;
    assert_eq!(
        SafeTensors::parse(&bytes).unwrap_err(),
        SafeTensorsError::HeaderNotUtf8 { offset: 3 }
    );
}

#[test]
fn json_syntax_errors() {
    use JsonErrorKind as K;
    const T: &str = r#""dtype":"U8","shape":[1],"data_offsets":[0,1]"#;
    let entry = |body: &str| std::format!("{{\"t\":{{{body}}}}}");
    assert_eq!(json_kind(r#"{"w":{"dtype":"F32""#, &[]), K::UnexpectedEnd);
    assert_eq!(json_kind("{", &[]), K::UnexpectedEnd);
    assert_eq!(json_kind(r#"{"t""#, &[]), K::UnexpectedEnd);
    assert_eq!(json_kind(r#"{"t"#, &[]), K::UnexpectedEnd);
    assert_eq!(json_kind("{} x", &[]), K::TrailingCharacters);
    assert_eq!(json_kind("{}{}", &[]), K::TrailingCharacters);
    assert!(matches!(
        json_kind(&std::format!("{{\"t\":{{{T}}},}}"), &[0]),
        K::Unexpected { found: '}', .. }
    ));
    assert!(matches!(
        json_kind(&std::format!("{{\"t\":{{{T},}}}}"), &[0]),
        K::Unexpected { found: '}', .. }
    ));
    assert!(matches!(
        json_kind(&std::format!("{{\"t\" {{{T}}}}}"), &[0]),
        K::Unexpected { found: '{', .. }
    ));
    assert!(matches!(
        json_kind(&std::format!("{{t:{{{T}}}}}"), &[0]),
        K::Unexpected { found: 't', .. }
    ));
    assert!(matches!(
        json_kind(&std::format!("{{'t':{{{T}}}}}"), &[0]),
        K::Unexpected { found: '\'', .. }
    ));
    assert!(matches!(
        json_kind(&std::format!("{{\"t\":{{{T}}} \"u\":{{}}}}"), &[0]),
        K::Unexpected { found: '"', .. }
    ));
    assert_eq!(
        json_kind(&std::format!("{{\"a\u{1}\":{{{T}}}}}"), &[0]),
        K::ControlCharacter
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\nb\":{{{T}}}}}"), &[0]),
        K::ControlCharacter
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\x\":{{{T}}}}}"), &[0]),
        K::InvalidEscape
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\'\":{{{T}}}}}"), &[0]),
        K::InvalidEscape
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\u12G4\":{{{T}}}}}"), &[0]),
        K::InvalidUnicodeEscape
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\u12\":{{{T}}}}}"), &[0]),
        K::InvalidUnicodeEscape
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\ud800\":{{{T}}}}}"), &[0]),
        K::LoneSurrogate
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\ud800\\n\":{{{T}}}}}"), &[0]),
        K::LoneSurrogate
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\ud800\\ud800\":{{{T}}}}}"), &[0]),
        K::LoneSurrogate
    );
    assert_eq!(
        json_kind(&std::format!("{{\"a\\udc00\":{{{T}}}}}"), &[0]),
        K::LoneSurrogate
    );
    assert_eq!(json_kind("{\"a\\", &[]), K::UnexpectedEnd);
    // Numbers.
    let shape = |s: &str| {
        entry(&std::format!(
            r#""dtype":"U8","shape":{s},"data_offsets":[0,1]"#
        ))
    };
    assert_eq!(json_kind(&shape("[-1]"), &[0]), K::NotANonNegativeInteger);
    assert_eq!(json_kind(&shape("[1.0]"), &[0]), K::NotANonNegativeInteger);
    assert_eq!(json_kind(&shape("[1e0]"), &[0]), K::NotANonNegativeInteger);
    assert_eq!(json_kind(&shape("[01]"), &[0]), K::LeadingZero);
    assert_eq!(
        json_kind(&shape("[99999999999999999999]"), &[0]),
        K::IntegerOverflow
    );
    assert!(matches!(
        json_kind(&shape("[1,]"), &[0]),
        K::Unexpected { found: ']', .. }
    ));
    assert!(matches!(
        json_kind(&shape("[1 1]"), &[0]),
        K::Unexpected { found: '1', .. }
    ));
    assert!(matches!(
        json_kind(&shape("[\"1\"]"), &[0]),
        K::Unexpected { found: '"', .. }
    ));
    assert_eq!(json_kind(r#"{"t":{"shape":[1"#, &[0]), K::UnexpectedEnd);
    assert_eq!(json_kind(r#"{"t":{"shape":[1,"#, &[0]), K::UnexpectedEnd);
}

#[test]
fn entry_structure_errors() {
    use SafeTensorsError as E;
    // Tensor entry is not an object.
    assert!(matches!(
        err(r#"{"w":5}"#, &[]),
        E::InvalidValue { offset: 5, .. }
    ));
    assert!(matches!(err(r#"{"w":[]}"#, &[]), E::InvalidValue { .. }));
    // Missing, unknown and duplicate fields.
    assert_eq!(
        err(r#"{"w":{"shape":[1],"data_offsets":[0,1]}}"#, &[0]),
        E::MissingField {
            offset: 1,
            field: "dtype"
        }
    );
    assert_eq!(
        err(r#"{"w":{"dtype":"U8","data_offsets":[0,1]}}"#, &[0]),
        E::MissingField {
            offset: 1,
            field: "shape"
        }
    );
    assert_eq!(
        err(r#"{"w":{}}"#, &[]),
        E::MissingField {
            offset: 1,
            field: "dtype"
        }
    );
    assert_eq!(
        err(r#"{"w":{"dtype":"U8","shape":[1]}}"#, &[0]),
        E::MissingField {
            offset: 1,
            field: "data_offsets"
        }
    );
    assert_eq!(
        err(
            r#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":0}}"#,
            &[0]
        ),
        E::UnknownField { offset: 52 }
    );
    assert_eq!(
        err(
            r#"{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            &[0]
        ),
        E::DuplicateField {
            offset: 19,
            field: "dtype"
        }
    );
    // Wrong value types.
    assert!(matches!(
        err(
            r#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,1]}}"#,
            &[0]
        ),
        E::InvalidValue { offset: 14, .. }
    ));
    assert!(matches!(
        err(
            r#"{"w":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}"#,
            &[0]
        ),
        E::InvalidValue { .. }
    ));
    for offsets in ["[0]", "[0,1,2]", "[]", "{}"] {
        let header =
            std::format!(r#"{{"w":{{"dtype":"U8","shape":[1],"data_offsets":{offsets}}}}}"#);
        assert!(
            matches!(err(&header, &[0]), E::InvalidValue { .. }),
            "{offsets}"
        );
    }
    // Too many dimensions.
    assert_eq!(
        err(
            r#"{"w":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#,
            &[0]
        ),
        E::TooManyDims { offset: 27 }
    );
    // Eight is fine.
    let ok = file(
        r#"{"w":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#,
        &[0],
    );
    assert_eq!(
        SafeTensors::parse(&ok)
            .unwrap()
            .get("w")
            .unwrap()
            .shape
            .len(),
        8
    );
    // Metadata problems.
    assert!(matches!(
        err(r#"{"__metadata__":{"a":1}}"#, &[]),
        E::InvalidValue { .. }
    ));
    assert!(matches!(
        err(r#"{"__metadata__":{"a":{}}}"#, &[]),
        E::InvalidValue { .. }
    ));
    assert!(matches!(
        err(r#"{"__metadata__":[]}"#, &[]),
        E::InvalidValue { .. }
    ));
    assert!(matches!(
        err(r#"{"__metadata__":"x"}"#, &[]),
        E::InvalidValue { .. }
    ));
    assert!(matches!(
        err(r#"{"__metadata__":{"a":"b",}}"#, &[]),
        E::Json { .. }
    ));
    assert_eq!(
        err(r#"{"__metadata__":{},"__metadata__":{}}"#, &[]),
        E::DuplicateMetadata { offset: 19 }
    );
}

#[test]
fn data_range_errors() {
    use SafeTensorsError as E;
    let data = basic_data();
    // Offsets past the data section.
    let header = r#"{"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#;
    assert_eq!(
        err(header, &data),
        E::OffsetsOutOfRange {
            offset: 1,
            begin: 0,
            end: 32,
            data_len: 24
        }
    );
    let header = r#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}"#;
    assert!(matches!(err(header, &data), E::OffsetsOutOfRange { .. }));
    // begin > end.
    let header = r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#;
    assert_eq!(
        err(header, &data),
        E::InvalidOffsets {
            offset: 1,
            begin: 8,
            end: 4
        }
    );
    // Length does not match the shape.
    let header = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[3],"data_offsets":[16,24]}}"#;
    let e = err(header, &data);
    assert_eq!(
        e,
        E::LengthMismatch {
            offset: 55,
            dtype: Dtype::F32,
            numel: 3,
            expected_bytes: 12,
            got_bytes: 8
        }
    );
    assert_eq!(e.offset(), Some(55));
    assert_eq!(&header[55..58], "\"w\"");
    assert_eq!(
        std::format!("{e}"),
        "the tensor named at header byte 55 has 3 F32 elements (12 bytes) but its data_offsets span 8 bytes"
    );
    // Element count overflow.
    let header = r#"{"w":{"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,1]}}"#;
    assert_eq!(err(header, &[0]), E::ShapeOverflow { offset: 1 });
    // Byte size overflow (element count fits).
    let header = r#"{"w":{"dtype":"F64","shape":[4294967296,1073741824],"data_offsets":[0,1]}}"#;
    assert_eq!(err(header, &[0]), E::ShapeOverflow { offset: 1 });
    // Overlapping tensors.
    let header = r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}"#;
    assert_eq!(
        err(header, &[0; 12]),
        E::OverlappingTensors {
            offset: 53,
            other: 1
        }
    );
    // Same range twice.
    let header = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
    assert!(matches!(err(header, &[0; 8]), E::OverlappingTensors { .. }));
    // A hole between tensors.
    let header = r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[12,16]}}"#;
    assert_eq!(
        err(header, &[0; 16]),
        E::UncoveredData {
            covered: 12,
            data_len: 16
        }
    );
    // Trailing bytes after the last tensor.
    let mut padded = data.clone();
    padded.push(0);
    assert_eq!(
        err(BASIC, &padded),
        E::UncoveredData {
            covered: 24,
            data_len: 25
        }
    );
    // Duplicate names.
    let header = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
    assert_eq!(
        err(header, &[0; 2]),
        E::DuplicateTensor {
            offset: 53,
            first: 1
        }
    );
    // Tensors out of offset order are fine.
    let header = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
    let bytes = file(header, &[5, 6]);
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.get("a").unwrap().data, &[6]);
    assert_eq!(st.get("b").unwrap().data, &[5]);
}

#[test]
fn error_messages_are_readable() {
    let cases: Vec<SafeTensorsError> = vec![
        err("{} x", &[]),
        err("[]", &[]),
        err(
            r#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0}}"#,
            &[0],
        ),
        err(
            r#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,9]}}"#,
            &[0],
        ),
        err(r#"{"a":5}"#, &[]),
        SafeTensorsError::TooShort { file_len: 3 },
    ];
    for e in cases {
        let msg = std::format!("{e}");
        assert!(msg.len() > 30, "{msg}");
        // Every message is a single sentence without debug formatting.
        assert!(!msg.contains('{') || msg.contains("'{'"), "{msg}");
    }
    assert_eq!(
        std::format!("{}", err("{} x", &[])),
        "safetensors header is not valid JSON at header byte 3: unexpected characters after the header object"
    );
    assert_eq!(
        std::format!("{}", err(r#"{"w" 1}"#, &[])),
        "safetensors header is not valid JSON at header byte 5: expected ':' after the tensor name, found '1'"
    );
    #[cfg(feature = "std")]
    {
        let boxed: std::boxed::Box<dyn std::error::Error> = std::boxed::Box::new(err("[]", &[]));
        assert!(std::format!("{boxed}").contains("JSON object"));
    }
}

/// Every proper prefix of a valid file is rejected, without panicking.
#[test]
fn fuzz_truncations() {
    let full = file(BASIC, &basic_data());
    for len in 0..full.len() {
        assert!(
            SafeTensors::parse(&full[..len]).is_err(),
            "prefix of {len} bytes parsed"
        );
    }
    assert!(SafeTensors::parse(&full).is_ok());
    // Truncating the header while keeping the prefix consistent.
    for len in 0..BASIC.trim_end().len() {
        let h = &BASIC[..len];
        assert!(
            SafeTensors::parse(&file(h, &basic_data())).is_err(),
            "{h:?}"
        );
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Checks what a successful parse promises.
fn check_invariants(st: &SafeTensors<'_>) {
    let mut total = 0;
    for t in st.tensors() {
        if let Some(size) = t.dtype.size() {
            assert_eq!(t.data.len(), t.numel() * size);
        }
        total += t.data.len();
        assert!(st.get_first_match_is(&t));
    }
    assert_eq!(total, st.data().len());
    assert_eq!(st.tensors().count(), st.len());
    let _ = st.metadata().count();
}

impl SafeTensors<'_> {
    fn get_first_match_is(&self, t: &TensorView<'_>) -> bool {
        self.tensors()
            .find(|u| names_equal(u.name, t.name))
            .is_some_and(|u| u == *t)
    }
}

/// Single-byte mutations of a valid file never panic; whatever parses is
/// self-consistent.
#[test]
fn fuzz_mutations() {
    let full = file(BASIC, &basic_data());
    let replacements = [
        0u8, b' ', b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'9', b'-', b'u', b'e',
        0x7f, 0xc3, 0xff,
    ];
    let mut parsed = 0;
    for pos in 0..full.len() {
        for &r in &replacements {
            let mut m = full.clone();
            m[pos] = r;
            if let Ok(st) = SafeTensors::parse(&m) {
                check_invariants(&st);
                parsed += 1;
            }
        }
    }
    // Mutations inside the data section keep the file valid.
    assert!(parsed >= 24 * replacements.len());
}

/// Random garbage, and random token soup behind a plausible prefix, never
/// panics.
#[test]
fn fuzz_garbage() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..3000 {
        let len = (rng.next() % 80) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if len >= 8 && rng.next() & 1 == 0 {
            let n = rng.next() % (len as u64 - 7);
            bytes[..8].copy_from_slice(&n.to_le_bytes());
        }
        assert!(SafeTensors::parse(&bytes).is_err() || bytes.len() >= 10);
    }
    let tokens: [&str; 24] = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\"t\"",
        "\"dtype\"",
        "\"shape\"",
        "\"data_offsets\"",
        "\"F32\"",
        "\"U8\"",
        "0",
        "1",
        "4",
        "[0,1]",
        "[1]",
        " ",
        "\\",
        "\\u0041",
        "\"__metadata__\"",
        "-",
        "1e3",
    ];
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut header = String::from("{");
        for _ in 0..(rng.next() % 24) {
            header.push_str(tokens[(rng.next() % tokens.len() as u64) as usize]);
        }
        let data = vec![0u8; (rng.next() % 5) as usize];
        let bytes = file(&header, &data);
        if let Ok(st) = SafeTensors::parse(&bytes) {
            check_invariants(&st);
            accepted += 1;
        }
    }
    // Mostly rejected, which is the point; a few (e.g. "{}") parse.
    assert!(accepted < 20_000);
}

#[test]
fn packs_a_conv_weight_from_a_file() {
    // A PyTorch-style 1x1 conv weight [O=2][I=2][1][1] and its bias.
    let data = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 0.5, 0.25]);
    let header = r#"{"conv.weight":{"dtype":"F32","shape":[2,2,1,1],"data_offsets":[0,16]},"conv.bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}"#;
    let bytes = file(header, &data);
    let st = SafeTensors::parse(&bytes).unwrap();
    let w = st.get("conv.weight").unwrap();
    let b = st.get("conv.bias").unwrap();
    let mut w_out = [0.0; 4];
    let mut b_out = [0.0; 2];
    crate::pack::pack_conv(
        w.data,
        crate::pack::SrcLayout::Oihw,
        w.shape[2],
        w.shape[3],
        w.shape[1],
        w.shape[0],
        Some(b.data),
        None,
        &mut w_out,
        &mut b_out,
    )
    .unwrap();
    assert_eq!(w_out, [1.0, 3.0, 2.0, 4.0]);
    assert_eq!(b_out, [0.5, 0.25]);
}

/// The exact text of every error, each from a file that has that one defect.
#[test]
fn every_error_message() {
    let msg = |header: &str, data: &[u8]| std::format!("{}", err(header, data));
    let u8s = |offsets: &str| {
        std::format!(r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":{offsets}}}}}"#)
    };
    let cases: Vec<(String, &str)> = vec![
        (
            std::format!("{}", SafeTensors::parse(&[1, 2, 3]).unwrap_err()),
            "safetensors file is 3 bytes long, shorter than its 8-byte header length prefix: the file is truncated or not a safetensors file",
        ),
        (
            std::format!("{}", SafeTensors::parse(&[200, 0, 0, 0, 0, 0, 0, 0, b'{']).unwrap_err()),
            "safetensors header length 200 exceeds the file size 9 bytes: the file is truncated or not a safetensors file",
        ),
        (
            std::format!("{}", SafeTensors::parse(&[5, 0, 0, 0, 0, 0, 0, 0, b'{', b'}']).unwrap_err()),
            "safetensors header length 5 plus the 8-byte length prefix exceeds the file size 10 bytes: the file is truncated or not a safetensors file",
        ),
        (
            std::format!("{}", SafeTensors::parse(&[3, 0, 0, 0, 0, 0, 0, 0, b'{', 0xff, b'}']).unwrap_err()),
            "safetensors header is not valid UTF-8 (invalid byte at header offset 1)",
        ),
        (msg("{} x", &[]), "safetensors header is not valid JSON at header byte 3: unexpected characters after the header object"),
        (msg("[]", &[]), "safetensors header must be a JSON object mapping tensor names to tensor entries, but header byte 0 does not start one"),
        (msg(r#"{"a":5}"#, &[]), "safetensors header byte 5: expected an object with \"dtype\", \"shape\" and \"data_offsets\" for a tensor entry"),
        (
            msg(r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0}}"#, &[0]),
            "unknown field at header byte 52: tensor entries may only have \"dtype\", \"shape\" and \"data_offsets\"",
        ),
        (
            msg(r#"{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, &[0]),
            "field \"dtype\" appears twice in a tensor entry (again at header byte 19)",
        ),
        (msg(r#"{"a":{"dtype":"U8","shape":[1]}}"#, &[]), "the tensor entry named at header byte 1 has no \"data_offsets\" field"),
        (
            msg(r#"{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#, &[0]),
            "the shape at header byte 27 has more than 8 dimensions, the most this reader supports",
        ),
        (
            msg(r#"{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}}"#, &[0]),
            "the size of the tensor named at header byte 1 overflows the address space",
        ),
        (
            msg(r#"{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,1]}}"#, &[0]),
            "the tensor named at header byte 1 has a dtype that is not one of the format's (BOOL, U8, I8, F16, BF16, F32, F64, ...; names are upper case)",
        ),
        (
            msg(r#"{"a":{"dtype":"F4","shape":[1],"data_offsets":[0,1]}}"#, &[0]),
            "the tensor named at header byte 1 has 1 F4 elements, which do not fill whole bytes",
        ),
        (msg(&u8s("[1,0]"), &[0]), "the tensor named at header byte 1 has data_offsets [1, 0]: begin is after end"),
        (
            msg(&u8s("[0,1]"), &[]),
            "the tensor named at header byte 1 has data_offsets [0, 1] past the end of the 0-byte data section: the file is truncated or corrupt",
        ),
        (
            msg(r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, &[0; 4]),
            "the tensor named at header byte 1 has 2 F32 elements (8 bytes) but its data_offsets span 4 bytes",
        ),
        (
            msg(r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, &[0; 2]),
            "the tensor name at header byte 53 repeats the name at header byte 1",
        ),
        (msg(r#"{"__metadata__":{},"__metadata__":{}}"#, &[]), "\"__metadata__\" appears twice (again at header byte 19)"),
        (
            msg(r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}"#, &[0; 2]),
            "the data of the tensor named at header byte 53 overlaps the data of the tensor named at header byte 1",
        ),
        (msg(&u8s("[0,1]"), &[0; 3]), "tensors cover 1 of the 3 bytes of the data section: safetensors files must not contain unreferenced bytes"),
    ];
    let wrong: Vec<_> = cases.iter().filter(|(got, want)| got != want).collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The tensor-count bound.
    let mut header = String::from("{");
    for i in 0..=MAX_TENSORS {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&std::format!(
            r#""t{i}":{{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#
        ));
    }
    header.push('}');
    let e = err(&header, &[]);
    assert!(
        std::format!("{e}")
            .starts_with("the header lists more than 4096 tensors (the one at header byte "),
        "{e}"
    );
    assert!(std::format!("{e}").ends_with(
        "is past the limit): no MobileNet has that many; the file is not a model's weights"
    ));
}
