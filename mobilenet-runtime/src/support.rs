//! Small items generated code relies on: the cost-table row type, the alignment wrapper for
//! embedded weights, arena splitting, and the `alloc` gate.

/// One row of a generated model's compile-time cost table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Layer name from the spec (`conv1`, `separable_conv2.depthwise`, ...).
    pub name: &'static str,
    /// Operation, e.g. `Conv DW 3x3 s2`.
    pub op: &'static str,
    /// Input shape `[h, w, c]`.
    pub input: [usize; 3],
    /// Output shape `[h, w, c]`.
    pub output: [usize; 3],
    /// Mult-Adds of the layer.
    pub mult_adds: u64,
    /// Weights of the layer (the paper's parameter count).
    pub params: u64,
    /// The layer runs inside the previous layer's kernel call (a depthwise layer and the
    /// pointwise layer reading it, fused: `kernels::depthwise_pointwise`), so its time is
    /// measured with that layer's.
    pub fused: bool,
}

/// Aligns its content to 64 bytes: generated code embeds weight files as
/// `&Aligned(*include_bytes!(...))`, so tensor data starts cache-line aligned relative to the
/// file start.
#[repr(C, align(64))]
pub struct Aligned<T: ?Sized>(pub T);

/// Splitting the scratch arena into a layer's input and output regions.
pub mod arena {
    /// Activation offsets in the arena are multiples of this many f32 values (64 bytes): the
    /// compiler's memory planner aligns to it.
    pub const ALIGN: usize = 16;

    /// Borrow `arena[in_off..in_off + in_len]` immutably and `arena[out_off..out_off + out_len]`
    /// mutably. The memory plan guarantees the two regions are disjoint; generated code passes
    /// constants, so this compiles to two pointer offsets.
    ///
    /// # Panics
    ///
    /// If the regions overlap or leave the arena (a bug in the memory plan).
    #[inline(always)]
    pub fn split(
        arena: &mut [f32],
        in_off: usize,
        in_len: usize,
        out_off: usize,
        out_len: usize,
    ) -> (&[f32], &mut [f32]) {
        let ([x], y) = regions(arena, [(in_off, in_len)], out_off, out_len);
        (x, y)
    }

    /// Borrow `N` regions `(offset, len)` of the arena immutably (they may overlap each other)
    /// and `arena[out_off..out_off + out_len]` mutably, e.g. the two operands of an addition and
    /// its result.
    ///
    /// # Panics
    ///
    /// If a read region overlaps the output region or a region leaves the arena (a bug in the
    /// memory plan).
    #[inline(always)]
    pub fn regions<T, const N: usize>(
        arena: &mut [T],
        reads: [(usize, usize); N],
        out_off: usize,
        out_len: usize,
    ) -> ([&[T]; N], &mut [T]) {
        let (lo, rest) = arena.split_at_mut(out_off);
        let (out, hi) = rest.split_at_mut(out_len);
        let (lo, hi) = (&*lo, &*hi);
        let reads = reads.map(|(off, len)| {
            if off + len <= out_off {
                &lo[off..off + len]
            } else {
                assert!(off >= out_off + out_len, "arena regions overlap");
                &hi[off - out_off - out_len..][..len]
            }
        });
        (reads, out)
    }
}

/// A slice of the wrong length where a network needs a fixed-size tensor (see [`as_array`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeError {
    /// Which tensor: `"input"`, `"output"`, `"scratch"`.
    pub what: &'static str,
    /// The shape the network needs.
    pub shape: [usize; 3],
    /// The number of values the network needs (the product of `shape`).
    pub expected: usize,
    /// The number of values given.
    pub found: usize,
    /// The element type (`"f32"`, `"u8"`, `"i8"`).
    pub elem: &'static str,
}

impl core::fmt::Display for SizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [h, w, c] = self.shape;
        write!(
            f,
            "the {} tensor has {} {} values, this network's {} is {h}x{w}x{c} = {} values (NHWC, batch 1)",
            self.what, self.found, self.elem, self.what, self.expected
        )?;
        if self.elem == "f32" && self.found == self.expected * 4 {
            f.write_str("; the length is 4x too large: were bytes passed instead of f32 values?")?;
        } else if self.expected != 0
            && self.found.is_multiple_of(self.expected)
            && self.found > self.expected
        {
            write!(
                f,
                "; that is {} tensors: pass one image at a time",
                self.found / self.expected
            )?;
        } else if self.what == "input" {
            f.write_str("; resize the image to the network's input shape before converting it")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SizeError {}

/// View `x` as the fixed-size array a generated network takes, or say what is wrong with its
/// length. `shape` (`[h, w, c]`, product `N`) is only used in the error.
pub fn as_array<'a, T, const N: usize>(
    x: &'a [T],
    what: &'static str,
    shape: [usize; 3],
) -> Result<&'a [T; N], SizeError> {
    x.try_into().map_err(|_| SizeError {
        what,
        shape,
        expected: N,
        found: x.len(),
        elem: core::any::type_name::<T>(),
    })
}

/// The mutable twin of [`as_array`].
pub fn as_array_mut<'a, T, const N: usize>(
    x: &'a mut [T],
    what: &'static str,
    shape: [usize; 3],
) -> Result<&'a mut [T; N], SizeError> {
    let found = x.len();
    x.try_into().map_err(|_| SizeError {
        what,
        shape,
        expected: N,
        found,
        elem: core::any::type_name::<T>(),
    })
}

/// Expands to its input when the `alloc` feature is on, to nothing otherwise. Generated code
/// wraps the heap-owning `Model` type in it, so the same generated module compiles for targets
/// without an allocator (which use `load_into` and the free `forward` function).
#[cfg(feature = "alloc")]
#[macro_export]
#[doc(hidden)]
macro_rules! __with_alloc {
    ($($t:tt)*) => { $($t)* };
}

/// Expands to its input when the `alloc` feature is on, to nothing otherwise.
#[cfg(not(feature = "alloc"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __with_alloc {
    ($($t:tt)*) => {};
}

/// Expands to its input when the `std` feature is on (the per-layer profile needs a clock).
#[cfg(feature = "std")]
#[macro_export]
#[doc(hidden)]
macro_rules! __with_std {
    ($($t:tt)*) => { $($t)* };
}

/// Expands to its input when the `std` feature is on, to nothing otherwise.
#[cfg(not(feature = "std"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __with_std {
    ($($t:tt)*) => {};
}

#[cfg(test)]
mod tests {
    use super::arena::split;

    #[test]
    fn split_both_orders() {
        let mut a = [0.0f32; 10];
        for (i, v) in a.iter_mut().enumerate() {
            *v = i as f32;
        }
        let (x, y) = split(&mut a, 0, 3, 6, 4);
        assert_eq!(x, &[0.0, 1.0, 2.0]);
        y[0] = 60.0;
        let (x, y) = split(&mut a, 6, 4, 0, 6);
        assert_eq!(x[0], 60.0);
        assert_eq!(y.len(), 6);
    }

    #[test]
    fn size_error_messages() {
        let x = [0.0f32; 10];
        let e = super::as_array::<f32, 12>(&x, "input", [2, 2, 3]).unwrap_err();
        assert_eq!(
            std::format!("{e}"),
            "the input tensor has 10 f32 values, this network's input is 2x2x3 = 12 values (NHWC, batch 1); \
             resize the image to the network's input shape before converting it"
        );
        let x = [0.0f32; 48];
        let e = super::as_array::<f32, 12>(&x, "input", [2, 2, 3]).unwrap_err();
        assert!(
            std::format!("{e}").ends_with("4x too large: were bytes passed instead of f32 values?")
        );
        let x = [0.0f32; 24];
        let e = super::as_array::<f32, 12>(&x, "input", [2, 2, 3]).unwrap_err();
        assert!(std::format!("{e}").ends_with("that is 2 tensors: pass one image at a time"));
        let mut y = [0.0f32; 12];
        assert!(super::as_array_mut::<f32, 12>(&mut y, "output", [1, 1, 12]).is_ok());
    }

    #[test]
    fn regions_two_reads() {
        let mut a = [0.0f32; 12];
        for (i, v) in a.iter_mut().enumerate() {
            *v = i as f32;
        }
        let ([x, z], y) = super::arena::regions(&mut a, [(8, 4), (0, 2)], 2, 6);
        assert_eq!(x, &[8.0, 9.0, 10.0, 11.0]);
        assert_eq!(z, &[0.0, 1.0]);
        assert_eq!(y.len(), 6);
        y[0] = -1.0;
        assert_eq!(a[2], -1.0);
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn regions_reject_overlap() {
        let mut a = [0.0f32; 12];
        let _ = super::arena::regions(&mut a, [(8, 4), (1, 2)], 2, 6);
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn split_rejects_overlap() {
        let mut a = [0.0f32; 10];
        let _ = split(&mut a, 2, 4, 4, 4);
    }
}
