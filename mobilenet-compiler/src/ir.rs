//! The values of the analysed network's graph: every tensor that flows between ops has an id,
//! a shape and an element type; every op ([`crate::model::Layer`]) lists the values it reads
//! and the one it writes.

use serde::Serialize;

use crate::model::Shape;

/// Index of a value in [`crate::model::Network::values`].
pub type ValueId = usize;

/// Element type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElemType {
    F32,
    /// Quantized, `u8` asymmetric (stored by the runtime as `i8` moved by -128).
    U8,
    /// Quantized, `i8`.
    I8,
}

impl ElemType {
    /// Whether the type is quantized.
    pub fn is_quantized(self) -> bool {
        !matches!(self, ElemType::F32)
    }
    /// The Rust type of an array of this element (generated code): storage of quantized
    /// activations is `i8`.
    pub fn storage(self) -> &'static str {
        match self {
            ElemType::F32 => "f32",
            ElemType::U8 | ElemType::I8 => "i8",
        }
    }
    /// The Rust type of the network's input or output array.
    pub fn io(self) -> &'static str {
        match self {
            ElemType::F32 => "f32",
            ElemType::U8 => "u8",
            ElemType::I8 => "i8",
        }
    }
}

/// One tensor of the graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    pub id: ValueId,
    /// The producing layer's name (`input` for the network input).
    pub name: String,
    pub shape: Shape,
    pub elem: ElemType,
}

impl Value {
    pub fn len(&self) -> usize {
        self.shape.len()
    }
    pub fn is_empty(&self) -> bool {
        self.shape.is_empty()
    }
}
