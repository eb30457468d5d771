//! The runtime's safetensors reader (`mobilenet_runtime::safetensors`) against the reference
//! implementation (the `safetensors` crate): the same accept/reject decision and, when both
//! accept, the same tensors (names, dtypes, shapes, bytes) and metadata.
//!
//! The runtime's reader is deliberately stricter in a few documented ways (see its module docs);
//! a file the reference accepts and it rejects for one of [`deliberately_stricter`]'s reasons is
//! no disagreement. Everything else is.

use std::collections::HashMap;

use mobilenet_runtime::safetensors::{self as rt, SafeTensorsError as E};
use safetensors::SafeTensors;

/// Rejections by the runtime's reader that the reference does not make, on purpose:
/// duplicate tensor names (the reference keeps the last one silently), unknown fields in a
/// tensor entry (the reference ignores them), a repeated `__metadata__`, and the size bounds
/// that keep its allocation-free checks fast (dimensions, tensor count).
pub fn deliberately_stricter(e: &E) -> bool {
    matches!(
        e,
        E::DuplicateTensor { .. }
            | E::UnknownField { .. }
            | E::DuplicateField { .. }
            | E::DuplicateMetadata { .. }
            | E::TooManyDims { .. }
            | E::TooManyTensors { .. }
    )
}

/// The outcome of one comparison (the smoke test counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both accept, with the same contents.
    BothAccept,
    /// Both reject.
    BothReject,
    /// The reference accepts, the runtime rejects for a deliberate reason.
    Stricter,
}

/// Compare the two readers on `data`; panics on a disagreement.
pub fn check(data: &[u8]) -> Outcome {
    let ours = rt::SafeTensors::parse(data);
    let theirs = SafeTensors::deserialize(data);
    match (ours, theirs) {
        (Err(e), Err(_)) => {
            let _ = e.to_string();
            Outcome::BothReject
        }
        (Err(e), Ok(_)) if deliberately_stricter(&e) => Outcome::Stricter,
        // A repeated name hides the first entry from the reference (it keeps the last), so the
        // runtime may reject the hidden entry for its own defect before it sees the repetition.
        (Err(_), Ok(_)) if has_repeated_key(data) => Outcome::Stricter,
        (Err(e), Ok(_)) => panic!("disagreement: the reference accepts, the runtime rejects: {e}"),
        (Ok(_), Err(e)) => panic!("disagreement: the runtime accepts, the reference rejects: {e}"),
        (Ok(ours), Ok(theirs)) => {
            compare(&ours, &theirs, data);
            Outcome::BothAccept
        }
    }
}

fn compare(ours: &rt::SafeTensors<'_>, theirs: &SafeTensors<'_>, data: &[u8]) {
    assert_eq!(ours.len(), theirs.len(), "tensor count");
    for t in ours.tensors() {
        let name = t.name_decoded();
        let Ok(r) = theirs.tensor(&name) else {
            panic!("the reference has no tensor {name:?}");
        };
        // The reference's dtype names (its `Debug`) are the file's.
        assert_eq!(
            t.dtype.name(),
            format!("{:?}", r.dtype()),
            "dtype of {name:?}"
        );
        assert_eq!(t.shape.as_slice(), r.shape(), "shape of {name:?}");
        assert_eq!(t.data, r.data(), "data of {name:?}");
        assert!(
            ours.get(&name).is_some_and(|g| g.data == t.data),
            "lookup of {name:?}"
        );
    }
    // Metadata: the reference keeps the last value of a repeated key.
    let mut meta: HashMap<String, String> = HashMap::new();
    for (k, v) in ours.metadata() {
        meta.insert(rt::unescape(k).collect(), rt::unescape(v).collect());
    }
    let (_, reference) = SafeTensors::read_metadata(data).expect("accepted before");
    let theirs_meta = reference.metadata().clone().unwrap_or_default();
    assert_eq!(meta, theirs_meta, "metadata");
}

/// Whether the header's top-level object repeats a key (which the reference tolerates).
fn has_repeated_key(data: &[u8]) -> bool {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Some(n) = data
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    else {
        return false;
    };
    let Some(header) = usize::try_from(n)
        .ok()
        .and_then(|n| data.get(8..8usize.checked_add(n)?))
    else {
        return false;
    };
    match serde_json::from_slice::<Keys>(header) {
        Ok(Keys(mut keys)) => {
            let before = keys.len();
            keys.sort();
            keys.dedup();
            keys.len() != before
        }
        Err(_) => false,
    }
}
