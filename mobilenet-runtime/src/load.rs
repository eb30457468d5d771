//! Loading a safetensors file into the packed parameter buffer of a generated model.
//!
//! Generated code describes every layer's tensors with a constant table of [`Entry`] values;
//! [`load`] checks the file against that table (missing, unexpected, wrong-dtype and
//! wrong-shape tensors are errors naming the tensor) and packs each layer with [`crate::pack`],
//! folding batch norm. It runs once, at load time, and allocates nothing.

use core::fmt;

use crate::pack::{self, BatchNorm, PackError, SrcLayout};
use crate::quant::{self, QuantError, QuantParams, WeightQuant};
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
    /// A quantized full convolution ([`quant::pack_conv`]).
    QConv {
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Input channels.
        ci: usize,
        /// Output channels.
        co: usize,
    },
    /// A quantized 1x1 convolution or fully connected layer ([`quant::pack_pointwise`]).
    QPointwise {
        /// Input channels.
        ci: usize,
        /// Output channels.
        co: usize,
    },
    /// A quantized depthwise convolution ([`quant::pack_depthwise`]).
    QDepthwise {
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Channels.
        c: usize,
    },
    /// A quantized residual add ([`quant::add_params`]).
    QAdd,
    /// A quantized average pool ([`quant::pool_params`]).
    QAvgPool,
    /// A quantized mean over `count` pixels ([`quant::mean_params`]).
    QMean {
        /// Pixels averaged.
        count: usize,
    },
    /// A quantized softmax ([`quant::softmax_params`]).
    QSoftmax,
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
            Kind::QConv { kh, kw, ci, co } => quant::conv_len(kh, kw, ci, co),
            Kind::QPointwise { ci, co } => quant::pointwise_len(ci, co),
            Kind::QDepthwise { kh, kw, c } => quant::depthwise_len(kh, kw, c),
            Kind::QAdd => (0, quant::ADD_PARAMS),
            Kind::QAvgPool | Kind::QMean { .. } => (0, quant::POOL_PARAMS),
            Kind::QSoftmax => (0, quant::SOFTMAX_PARAMS),
        }
    }

    /// The layer reads a weight tensor (quantized adds, pools and softmaxes have only
    /// quantization parameters).
    pub const fn has_weights(&self) -> bool {
        !matches!(
            self,
            Kind::QAdd | Kind::QAvgPool | Kind::QMean { .. } | Kind::QSoftmax
        )
    }

    /// The layer is quantized.
    pub const fn is_quantized(&self) -> bool {
        matches!(
            self,
            Kind::QConv { .. }
                | Kind::QPointwise { .. }
                | Kind::QDepthwise { .. }
                | Kind::QAdd
                | Kind::QAvgPool
                | Kind::QMean { .. }
                | Kind::QSoftmax
        )
    }
}

/// The tensors holding one quantization: a scale (`F32`, `[1]` or one per output channel) and
/// a zero point (`U8` or `I8`: its dtype is the quantized tensor's type).
#[derive(Clone, Copy, Debug)]
pub struct QuantTensors {
    /// The scale tensor.
    pub scale: &'static str,
    /// The zero point tensor.
    pub zero_point: &'static str,
}

/// A quantized layer's quantization tensors and fused activation.
#[derive(Clone, Copy, Debug)]
pub struct QuantNames {
    /// The input's (the first input's, for an add).
    pub input: QuantTensors,
    /// The second input's (an add).
    pub input2: Option<QuantTensors>,
    /// The output's.
    pub output: QuantTensors,
    /// The weight's (per tensor or per output channel).
    pub weight: Option<QuantTensors>,
    /// The fused activation (`ACT_*`), applied as the output's clamp.
    pub act: u8,
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
    /// The quantization of a quantized layer ([`Kind::is_quantized`]).
    pub quant: Option<QuantNames>,
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
    /// A quantized tensor has a dtype its role does not allow.
    QuantDtype {
        /// The tensor.
        tensor: &'static str,
        /// Its dtype in the file.
        found: Dtype,
        /// What the role needs.
        expected: &'static str,
    },
    /// A quantized layer's parameters are inconsistent (a zero scale, a zero point outside its
    /// type, per-channel values of the wrong count, ...).
    Quant {
        /// The layer.
        layer: &'static str,
        /// What is wrong.
        error: QuantError,
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
            LoadError::QuantDtype { tensor, found, expected } => {
                write!(f, "tensor `{tensor}` is {found:?}, expected {expected}; the quantized weights file is malformed: re-import the model")
            }
            LoadError::Quant { layer, error } => write!(
                f,
                "layer `{layer}` has inconsistent quantization: {error}; re-import the model"
            ),
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
        let isq = |q: Option<QuantTensors>| {
            q.is_some_and(|q| is(Some(q.scale)) || is(Some(q.zero_point)))
        };
        let known = entries.iter().any(|e| {
            (e.kind.has_weights() && is(Some(e.weight)))
                || is(e.bias)
                || e.bn
                    .is_some_and(|b| is(b.gamma) || is(b.beta) || is(b.mean) || is(b.var))
                || e.quant.is_some_and(|q| {
                    isq(Some(q.input)) || isq(q.input2) || isq(Some(q.output)) || isq(q.weight)
                })
        });
        if !known {
            return Err(LoadError::Unexpected {
                tensor: Name::new(t.name),
            });
        }
    }
    for e in entries {
        let (before_b, rest) = params.split_at_mut(e.b_off);
        let w_out = &mut before_b[e.w_off..e.w_off + e.w_len];
        let b_out = &mut rest[..e.b_len];
        if e.kind.is_quantized() {
            load_quantized(&st, e, w_out, b_out)?;
            continue;
        }
        let w = tensor(&st, e.weight, e.layer, e.weight_shape)?.data;
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
            _ => unreachable!("quantized kinds are loaded above"),
        };
        result.map_err(|error| LoadError::Pack {
            layer: e.layer,
            error,
        })?;
    }
    Ok(())
}

/// A tensor of one of `dtypes` (named by `expected` in the error) and, if given, one of the
/// `shapes`.
fn typed<'a>(
    st: &SafeTensors<'a>,
    name: &'static str,
    layer: &'static str,
    dtypes: &[Dtype],
    expected: &'static str,
    shapes: &[&[usize]],
) -> Result<TensorView<'a>, LoadError> {
    let t = st.get(name).ok_or(LoadError::Missing {
        tensor: name,
        layer,
    })?;
    if !dtypes.contains(&t.dtype) {
        return Err(LoadError::QuantDtype {
            tensor: name,
            found: t.dtype,
            expected,
        });
    }
    if !shapes.is_empty() && !shapes.iter().any(|s| t.shape.as_slice() == *s) {
        return Err(LoadError::Shape {
            tensor: name,
            layer,
            expected: Dims::new(shapes[shapes.len() - 1]),
            found: Dims::new(t.shape.as_slice()),
        });
    }
    Ok(t)
}

/// An activation's quantization.
fn activation_quant(
    st: &SafeTensors<'_>,
    q: QuantTensors,
    layer: &'static str,
) -> Result<QuantParams, LoadError> {
    let s = typed(st, q.scale, layer, &[Dtype::F32], "F32", &[&[1]])?;
    let z = typed(
        st,
        q.zero_point,
        layer,
        &[Dtype::U8, Dtype::I8],
        "U8 or I8",
        &[&[1]],
    )?;
    let unsigned = z.dtype == Dtype::U8;
    Ok(QuantParams {
        scale: f32::from_le_bytes([s.data[0], s.data[1], s.data[2], s.data[3]]),
        zero_point: if unsigned {
            z.data[0] as i32
        } else {
            z.data[0] as i8 as i32
        },
        unsigned,
    })
}

fn load_quantized(
    st: &SafeTensors<'_>,
    e: &Entry,
    w_out: &mut [f32],
    b_out: &mut [f32],
) -> Result<(), LoadError> {
    let layer = e.layer;
    let Some(q) = e.quant else {
        return Err(LoadError::Missing {
            tensor: "quantization parameters",
            layer,
        });
    };
    let input = activation_quant(st, q.input, layer)?;
    let output = activation_quant(st, q.output, layer)?;
    let quant_err = |error| LoadError::Quant { layer, error };
    let co = match e.kind {
        Kind::QConv { co, .. } | Kind::QPointwise { co, .. } => co,
        Kind::QDepthwise { c, .. } => c,
        _ => 0,
    };
    let weights = |q: &QuantNames| -> Result<(WeightQuant<'_>, &[u8]), LoadError> {
        let wt = typed(
            st,
            e.weight,
            layer,
            &[Dtype::U8, Dtype::I8],
            "U8 or I8",
            &[e.weight_shape],
        )?;
        let unsigned = wt.dtype == Dtype::U8;
        let Some(wq) = q.weight else {
            return Err(LoadError::Missing {
                tensor: "weight quantization",
                layer,
            });
        };
        let s = typed(st, wq.scale, layer, &[Dtype::F32], "F32", &[&[1], &[co]])?;
        let zdt = if unsigned { Dtype::U8 } else { Dtype::I8 };
        let z = typed(
            st,
            wq.zero_point,
            layer,
            &[zdt],
            if unsigned {
                "U8 (as the weights)"
            } else {
                "I8 (as the weights)"
            },
            &[&[1], &[co]],
        )?;
        let Some(bias) = e.bias else {
            return Err(LoadError::Missing {
                tensor: "bias",
                layer,
            });
        };
        let b = typed(st, bias, layer, &[Dtype::I32], "I32", &[&[co]])?;
        Ok((
            WeightQuant {
                data: wt.data,
                layout: e.weight_layout,
                unsigned,
                scales: s.data,
                zero_points: z.data,
            },
            b.data,
        ))
    };
    match e.kind {
        Kind::QConv { kh, kw, ci, co } => {
            let (w, b) = weights(&q)?;
            quant::pack_conv(
                &w,
                b,
                &input,
                &output,
                q.act,
                [kh, kw, ci, co],
                w_out,
                b_out,
            )
        }
        Kind::QPointwise { ci, co } => {
            let (w, b) = weights(&q)?;
            quant::pack_pointwise(&w, b, &input, &output, q.act, [ci, co], w_out, b_out)
        }
        Kind::QDepthwise { kh, kw, c } => {
            let (w, b) = weights(&q)?;
            quant::pack_depthwise(&w, b, &input, &output, q.act, [kh, kw, c], w_out, b_out)
        }
        Kind::QAdd => {
            let Some(q2) = q.input2 else {
                return Err(LoadError::Missing {
                    tensor: "second input quantization",
                    layer,
                });
            };
            let input2 = activation_quant(st, q2, layer)?;
            quant::add_params(&input, &input2, &output, q.act, b_out)
        }
        Kind::QAvgPool => quant::pool_params(&input, &output, q.act, b_out),
        Kind::QMean { count } => quant::mean_params(&input, &output, count, b_out),
        Kind::QSoftmax => quant::softmax_params(&input, &output, b_out),
        _ => unreachable!("float kinds are loaded by `load`"),
    }
    .map_err(quant_err)
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

    /// A heap-allocated scratch arena of `N` values (`f32`, or `i8` for quantized networks;
    /// allocated once, reused by every forward pass). Dereferences to `[T; N]`.
    pub struct Scratch<const N: usize, T = f32>(Box<[T; N]>);

    impl<const N: usize, T: Copy + Default> Scratch<N, T> {
        /// A zeroed arena, allocated directly on the heap (never on the stack).
        pub fn new() -> Self {
            let b: Box<[T]> = vec![T::default(); N].into_boxed_slice();
            match b.try_into() {
                Ok(arr) => Scratch(arr),
                Err(_) => unreachable!("a vec of N values converts to [T; N]"),
            }
        }
    }

    impl<const N: usize, T: Copy + Default> Default for Scratch<N, T> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<const N: usize, T> core::ops::Deref for Scratch<N, T> {
        type Target = [T; N];
        fn deref(&self) -> &[T; N] {
            &self.0
        }
    }

    impl<const N: usize, T> core::ops::DerefMut for Scratch<N, T> {
        fn deref_mut(&mut self) -> &mut [T; N] {
            &mut self.0
        }
    }
}

#[cfg(feature = "alloc")]
pub use owned::{Params, Scratch};
