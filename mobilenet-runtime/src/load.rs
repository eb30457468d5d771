//! Loading a safetensors file into the packed parameter buffer of a generated model.
//!
//! Generated code describes every layer's tensors with a constant table of [`Entry`] values;
//! [`load`] checks the file against that table (missing, unexpected, wrong-dtype and
//! wrong-shape tensors are errors naming the tensor) and packs each layer with [`crate::pack`],
//! folding batch norm. It runs once, at load time, and allocates nothing.

use core::fmt;

use crate::pack::{self, BatchNorm, PackError, SrcLayout};
use crate::safetensors::{Dtype, SafeTensors, SafeTensorsError, TensorView};

/// What kind of layer an [`Entry`] packs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A full convolution (1x1 included), packed HWIO.
    Conv {
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Input channels.
        ci: usize,
        /// Output channels.
        co: usize,
    },
    /// A 1x1 convolution run by the pointwise kernel, packed in 16-channel panels
    /// ([`pack::pack_pointwise`]).
    Pointwise {
        /// Input channels.
        ci: usize,
        /// Output channels.
        co: usize,
    },
    /// A depthwise convolution, packed `[KH][KW][C]`.
    Depthwise {
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Channels.
        c: usize,
    },
    /// A fully connected layer, packed `[IN][OUT]`.
    Fc {
        /// Input features.
        inputs: usize,
        /// Output features.
        outputs: usize,
    },
}

impl Kind {
    /// The number of packed weight and bias values this layer takes in the parameter buffer
    /// (before alignment): the single definition the compiler lays the buffer out with.
    pub const fn packed_len(&self) -> (usize, usize) {
        match *self {
            Kind::Conv { kh, kw, ci, co } => (kh * kw * ci * co, co),
            Kind::Pointwise { ci, co } => (pack::pointwise_len(ci, co), co),
            Kind::Depthwise { kh, kw, c } => (kh * kw * c, c),
            Kind::Fc { inputs, outputs } => (inputs * outputs, outputs),
        }
    }
}

/// Every layer's packed weights and bias start at a multiple of this many f32 values (64
/// bytes) in the parameter buffer.
pub const PARAM_ALIGN: usize = 16;

/// The tensors a PyTorch `state_dict` holds that no layer uses and that loading skips:
/// BatchNorm's step counters, `<bn>.num_batches_tracked`.
pub const PYTORCH_IGNORED_SUFFIX: &str = ".num_batches_tracked";

/// Names of a batch norm's tensors, and its epsilon.
#[derive(Clone, Copy, Debug)]
pub struct BnNames {
    /// Scale tensor, if any.
    pub gamma: Option<&'static str>,
    /// Shift tensor, if any.
    pub beta: Option<&'static str>,
    /// Running mean tensor.
    pub mean: Option<&'static str>,
    /// Running variance tensor.
    pub var: Option<&'static str>,
    /// Epsilon added to the variance.
    pub eps: f32,
}

/// One layer's weights: which tensors to read and where to pack them.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Layer name (for error messages).
    pub layer: &'static str,
    /// Layer kind and dimensions.
    pub kind: Kind,
    /// Name of the weight tensor in the file.
    pub weight: &'static str,
    /// Its layout in the file.
    pub weight_layout: SrcLayout,
    /// Its shape in the file.
    pub weight_shape: &'static [usize],
    /// Bias tensor, if the layer has one.
    pub bias: Option<&'static str>,
    /// Batch norm folded into the layer, if any.
    pub bn: Option<BnNames>,
    /// Offset of the packed weights in the parameter buffer.
    pub w_off: usize,
    /// Number of packed weights.
    pub w_len: usize,
    /// Offset of the packed bias.
    pub b_off: usize,
    /// Number of bias values.
    pub b_len: usize,
}

/// A tensor name that is not `'static` (it comes from the file), kept inline so that errors
/// need no allocation. Names longer than the buffer are truncated with `...`.
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; 80],
    len: u8,
    truncated: bool,
}

impl Name {
    fn new(s: &str) -> Self {
        let mut buf = [0u8; 80];
        let mut len = 0;
        for ch in s.chars() {
            let mut tmp = [0u8; 4];
            let e = ch.encode_utf8(&mut tmp).as_bytes();
            if len + e.len() > buf.len() {
                return Name {
                    buf,
                    len: len as u8,
                    truncated: true,
                };
            }
            buf[len..len + e.len()].copy_from_slice(e);
            len += e.len();
        }
        Name {
            buf,
            len: len as u8,
            truncated: false,
        }
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        // The buffer only ever receives whole UTF-8 encoded characters.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// A fixed-capacity copy of a tensor shape, for error messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    dims: [u32; 6],
    len: u8,
}

impl Dims {
    fn new(s: &[usize]) -> Self {
        let mut dims = [0; 6];
        let len = s.len().min(6);
        for (d, &v) in dims.iter_mut().zip(s) {
            *d = u32::try_from(v).unwrap_or(u32::MAX);
        }
        Dims {
            dims,
            len: len as u8,
        }
    }
    /// The dimensions (at most 6 are kept).
    pub fn as_slice(&self) -> &[u32] {
        &self.dims[..self.len as usize]
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

/// Why weights could not be loaded. Every variant names the tensor (and layer) at fault.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a valid safetensors file.
    Format(SafeTensorsError),
    /// A tensor the network needs is not in the file.
    Missing {
        /// The tensor.
        tensor: &'static str,
        /// The layer needing it.
        layer: &'static str,
    },
    /// A tensor is not float32.
    Dtype {
        /// The tensor.
        tensor: &'static str,
        /// Its dtype in the file.
        found: Dtype,
    },
    /// A tensor has the wrong shape.
    Shape {
        /// The tensor.
        tensor: &'static str,
        /// The layer needing it.
        layer: &'static str,
        /// The shape the network needs.
        expected: Dims,
        /// The shape in the file.
        found: Dims,
    },
    /// The file holds a tensor no layer uses.
    Unexpected {
        /// The tensor's name.
        tensor: Name,
    },
    /// A tensor holds a NaN or an infinity.
    NonFinite {
        /// The tensor.
        tensor: &'static str,
        /// The layer needing it.
        layer: &'static str,
        /// Flat (row-major) index of the first non-finite element.
        index: usize,
        /// That element.
        value: f32,
    },
    /// The parameter buffer has the wrong length.
    Buffer {
        /// Required number of f32 values.
        expected: usize,
        /// Given number.
        found: usize,
    },
    /// Packing failed (a bug: shapes were checked before).
    Pack {
        /// The layer.
        layer: &'static str,
        /// The packing error.
        error: PackError,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Format(e) => write!(f, "not a valid safetensors file: {e}"),
            LoadError::Missing { tensor, layer } => write!(
                f,
                "the weights have no tensor `{tensor}` (needed by layer `{layer}`); check that the file matches the spec's layer names and `naming`"
            ),
            LoadError::Dtype { tensor, found } => {
                write!(f, "tensor `{tensor}` is {found:?}, expected F32; convert the weights to float32")
            }
            LoadError::Shape { tensor, layer, expected, found } => write!(
                f,
                "tensor `{tensor}` has shape {found:?}, layer `{layer}` needs {expected:?}; the weights do not match the spec"
            ),
            LoadError::Unexpected { tensor } => write!(
                f,
                "the weights hold a tensor `{tensor}` that no layer of the spec uses; the file belongs to another network"
            ),
            LoadError::NonFinite { tensor, layer, index, value } => write!(
                f,
                "tensor `{tensor}` (layer `{layer}`) holds {value} at element {index}; the weights are corrupt or \
                 come from a diverged training run: re-export them from a good checkpoint"
            ),
            LoadError::Buffer { expected, found } => {
                write!(f, "parameter buffer has {found} values, the model needs {expected}")
            }
            LoadError::Pack { layer, error } => write!(f, "packing layer `{layer}` failed: {error}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LoadError {}

impl From<SafeTensorsError> for LoadError {
    fn from(e: SafeTensorsError) -> Self {
        LoadError::Format(e)
    }
}

fn tensor<'a>(
    st: &SafeTensors<'a>,
    name: &'static str,
    layer: &'static str,
    shape: &[usize],
) -> Result<TensorView<'a>, LoadError> {
    let t = st.get(name).ok_or(LoadError::Missing {
        tensor: name,
        layer,
    })?;
    if t.dtype != Dtype::F32 {
        return Err(LoadError::Dtype {
            tensor: name,
            found: t.dtype,
        });
    }
    if t.shape.as_slice() != shape {
        return Err(LoadError::Shape {
            tensor: name,
            layer,
            expected: Dims::new(shape),
            found: Dims::new(t.shape.as_slice()),
        });
    }
    if let Some((index, value)) = first_non_finite(t.data) {
        return Err(LoadError::NonFinite {
            tensor: name,
            layer,
            index,
            value,
        });
    }
    Ok(t)
}

/// The first NaN or infinity among little-endian f32 values, with its index.
pub fn first_non_finite(data: &[u8]) -> Option<(usize, f32)> {
    data.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .enumerate()
        .find(|(_, v)| !v.is_finite())
}

fn vector<'a>(
    st: &SafeTensors<'a>,
    name: Option<&'static str>,
    layer: &'static str,
    n: usize,
) -> Result<Option<&'a [u8]>, LoadError> {
    match name {
        None => Ok(None),
        Some(name) => Ok(Some(tensor(st, name, layer, &[n])?.data)),
    }
}

/// Check `bytes` (a safetensors file) against `entries` and pack every layer into `params`.
/// Tensors whose name ends with `ignored_suffix` (PyTorch's `num_batches_tracked`) are skipped;
/// any other tensor not named by an entry is an error.
pub fn load(
    bytes: &[u8],
    entries: &[Entry],
    ignored_suffix: Option<&str>,
    params: &mut [f32],
) -> Result<(), LoadError> {
    let st = SafeTensors::parse(bytes)?;
    let needed = entries
        .iter()
        .map(|e| e.w_off + e.w_len)
        .chain(entries.iter().map(|e| e.b_off + e.b_len))
        .max()
        .unwrap_or(0);
    if params.len() < needed {
        return Err(LoadError::Buffer {
            expected: needed,
            found: params.len(),
        });
    }
    // Unexpected tensors first: a file for another network is best reported as such.
    for t in st.tensors() {
        // Names are compared in their decoded form (the header may escape characters).
        if ignored_suffix.is_some_and(|s| t.name.ends_with(s) && !t.name.contains('\\')) {
            continue;
        }
        let is = |n: Option<&str>| n.is_some_and(|n| t.name_matches(n));
        let known = entries.iter().any(|e| {
            is(Some(e.weight))
                || is(e.bias)
                || e.bn
                    .is_some_and(|b| is(b.gamma) || is(b.beta) || is(b.mean) || is(b.var))
        });
        if !known {
            return Err(LoadError::Unexpected {
                tensor: Name::new(t.name),
            });
        }
    }
    for e in entries {
        let w = tensor(&st, e.weight, e.layer, e.weight_shape)?.data;
        let (before_b, rest) = params.split_at_mut(e.b_off);
        let w_out = &mut before_b[e.w_off..e.w_off + e.w_len];
        let b_out = &mut rest[..e.b_len];
        let result = match e.kind {
            Kind::Conv { kh, kw, ci, co } => {
                let bias = vector(&st, e.bias, e.layer, co)?;
                let bn = bn(&st, e, co)?;
                pack::pack_conv(
                    w,
                    e.weight_layout,
                    kh,
                    kw,
                    ci,
                    co,
                    bias,
                    bn.as_ref(),
                    w_out,
                    b_out,
                )
            }
            Kind::Pointwise { ci, co } => {
                let bias = vector(&st, e.bias, e.layer, co)?;
                let bn = bn(&st, e, co)?;
                pack::pack_pointwise(w, e.weight_layout, ci, co, bias, bn.as_ref(), w_out, b_out)
            }
            Kind::Depthwise { kh, kw, c } => {
                let bias = vector(&st, e.bias, e.layer, c)?;
                let bn = bn(&st, e, c)?;
                pack::pack_depthwise(
                    w,
                    e.weight_layout,
                    kh,
                    kw,
                    c,
                    bias,
                    bn.as_ref(),
                    w_out,
                    b_out,
                )
            }
            Kind::Fc { inputs, outputs } => {
                let bias = vector(&st, e.bias, e.layer, outputs)?;
                pack::pack_fc(w, e.weight_layout, inputs, outputs, bias, w_out, b_out)
            }
        };
        result.map_err(|error| LoadError::Pack {
            layer: e.layer,
            error,
        })?;
    }
    Ok(())
}

fn bn<'a>(st: &SafeTensors<'a>, e: &Entry, c: usize) -> Result<Option<BatchNorm<'a>>, LoadError> {
    let Some(names) = e.bn else { return Ok(None) };
    let req = |n: Option<&'static str>| -> Result<&'a [u8], LoadError> {
        match vector(st, n, e.layer, c)? {
            Some(d) => Ok(d),
            None => Err(LoadError::Missing {
                tensor: "batch norm statistics",
                layer: e.layer,
            }),
        }
    };
    Ok(Some(BatchNorm {
        gamma: vector(st, names.gamma, e.layer, c)?,
        beta: vector(st, names.beta, e.layer, c)?,
        mean: req(names.mean)?,
        var: req(names.var)?,
        eps: names.eps,
    }))
}

#[cfg(feature = "alloc")]
mod owned {
    use alloc::boxed::Box;
    use alloc::vec;

    /// Packed parameters on the heap.
    pub struct Params(Box<[f32]>);

    impl Params {
        /// `len` zeros.
        pub fn zeroed(len: usize) -> Self {
            Params(vec![0.0; len].into_boxed_slice())
        }
        /// The values.
        pub fn as_slice(&self) -> &[f32] {
            &self.0
        }
        /// The values, mutably.
        pub fn as_mut_slice(&mut self) -> &mut [f32] {
            &mut self.0
        }
    }

    /// A heap-allocated scratch arena of `N` f32 values (allocated once, reused by every
    /// forward pass). Dereferences to `[f32; N]`.
    pub struct Scratch<const N: usize>(Box<[f32; N]>);

    impl<const N: usize> Scratch<N> {
        /// A zeroed arena, allocated directly on the heap (never on the stack).
        pub fn new() -> Self {
            let b: Box<[f32]> = vec![0.0; N].into_boxed_slice();
            match b.try_into() {
                Ok(arr) => Scratch(arr),
                Err(_) => unreachable!("a vec of N values converts to [f32; N]"),
            }
        }
    }

    impl<const N: usize> Default for Scratch<N> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<const N: usize> core::ops::Deref for Scratch<N> {
        type Target = [f32; N];
        fn deref(&self) -> &[f32; N] {
            &self.0
        }
    }

    impl<const N: usize> core::ops::DerefMut for Scratch<N> {
        fn deref_mut(&mut self) -> &mut [f32; N] {
            &mut self.0
        }
    }
}

#[cfg(feature = "alloc")]
pub use owned::{Params, Scratch};
