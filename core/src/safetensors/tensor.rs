//! A view of one tensor inside a parsed safetensors buffer, with exact widening readers.
//!
//! The data is little-endian and row-major ('C' order), as the spec says. Readers decode
//! element by element with `from_le_bytes`, so they work on any host endianness and any
//! alignment of the underlying buffer. F16 and BF16 widen to f32 exactly (every half and
//! bfloat16 value, NaN payloads aside, is representable in f32).

use half::{bf16, f16};

use super::dtype::Dtype;
use super::error::{Dims, SafetensorsError, SafetensorsErrorKind};
use super::MAX_DIMS;

/// Reads a little-endian u16 from a 2-byte chunk (0 for a chunk of another length, which the
/// callers' `chunks_exact` never produces).
fn le_u16(bytes: &[u8]) -> u16 {
    bytes.try_into().map(u16::from_le_bytes).unwrap_or(0)
}

/// Reads a little-endian u32 from a 4-byte chunk (0 for another length).
fn le_u32(bytes: &[u8]) -> u32 {
    bytes.try_into().map(u32::from_le_bytes).unwrap_or(0)
}

/// Reads a little-endian u64 from an 8-byte chunk (0 for another length).
fn le_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_le_bytes).unwrap_or(0)
}

/// One tensor: name, dtype, shape and its bytes in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorView<'a> {
    /// The tensor's name (escape-free JSON string, so raw and decoded text agree).
    pub name: &'a str,
    /// The element type.
    pub dtype: Dtype,
    pub(crate) shape: heapless::Vec<usize, MAX_DIMS>,
    /// The tensor's bytes: exactly `numel() * dtype.size_in_bytes()` of them.
    pub data: &'a [u8],
    pub(crate) data_offsets: (usize, usize),
}

impl<'a> TensorView<'a> {
    /// The extents, outermost first (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements (product of the extents; 1 for a scalar).
    pub fn numel(&self) -> usize {
        // The parser checked data.len() == numel * size without overflow.
        self.data.len() / self.dtype.size_in_bytes()
    }

    /// `[begin, end)` of the data relative to the first byte after the header.
    pub fn data_offsets(&self) -> (usize, usize) {
        self.data_offsets
    }

    /// An error about this tensor.
    fn error(&self, kind: SafetensorsErrorKind) -> SafetensorsError {
        SafetensorsError::named(kind, self.name)
    }

    /// Checks dtype and output length for a reader.
    fn check_read(&self, dtype: Dtype, out_len: usize) -> Result<(), SafetensorsError> {
        if self.dtype != dtype {
            return Err(self.error(SafetensorsErrorKind::WrongDtype {
                expected: dtype,
                found: self.dtype,
            }));
        }
        if out_len != self.numel() {
            return Err(self.error(SafetensorsErrorKind::BufferLength {
                expected: self.numel(),
                actual: out_len,
            }));
        }
        Ok(())
    }

    /// Widens F16 data to f32 exactly into `out`.
    ///
    /// # Errors
    /// [`WrongDtype`](SafetensorsErrorKind::WrongDtype) unless the tensor is F16;
    /// [`BufferLength`](SafetensorsErrorKind::BufferLength) unless `out.len() == numel()`.
    pub fn read_f16_to_f32(&self, out: &mut [f32]) -> Result<(), SafetensorsError> {
        self.check_read(Dtype::F16, out.len())?;
        for (dst, src) in out.iter_mut().zip(self.data.chunks_exact(2)) {
            *dst = f16::from_bits(le_u16(src)).to_f32();
        }
        Ok(())
    }

    /// Widens BF16 data to f32 exactly into `out`.
    ///
    /// # Errors
    /// [`WrongDtype`](SafetensorsErrorKind::WrongDtype) unless the tensor is BF16;
    /// [`BufferLength`](SafetensorsErrorKind::BufferLength) unless `out.len() == numel()`.
    pub fn read_bf16_to_f32(&self, out: &mut [f32]) -> Result<(), SafetensorsError> {
        self.check_read(Dtype::BF16, out.len())?;
        for (dst, src) in out.iter_mut().zip(self.data.chunks_exact(2)) {
            *dst = bf16::from_bits(le_u16(src)).to_f32();
        }
        Ok(())
    }

    /// Copies F32 data into `out` (bit for bit).
    ///
    /// # Errors
    /// [`WrongDtype`](SafetensorsErrorKind::WrongDtype) unless the tensor is F32;
    /// [`BufferLength`](SafetensorsErrorKind::BufferLength) unless `out.len() == numel()`.
    pub fn read_f32(&self, out: &mut [f32]) -> Result<(), SafetensorsError> {
        self.check_read(Dtype::F32, out.len())?;
        for (dst, src) in out.iter_mut().zip(self.data.chunks_exact(4)) {
            *dst = f32::from_bits(le_u32(src));
        }
        Ok(())
    }

    /// Checks that a floating-point tensor holds no NaN or infinity (other dtypes pass).
    ///
    /// # Errors
    /// [`NonFinite`](SafetensorsErrorKind::NonFinite) with the first offending flat index.
    pub fn check_finite(&self) -> Result<(), SafetensorsError> {
        let size = self.dtype.size_in_bytes();
        let finite = |bytes: &[u8]| -> bool {
            match self.dtype {
                Dtype::F16 => f16::from_bits(le_u16(bytes)).is_finite(),
                Dtype::BF16 => bf16::from_bits(le_u16(bytes)).is_finite(),
                Dtype::F32 => f32::from_bits(le_u32(bytes)).is_finite(),
                Dtype::F64 => f64::from_bits(le_u64(bytes)).is_finite(),
                _ => true,
            }
        };
        if !self.dtype.is_float() {
            return Ok(());
        }
        match self
            .data
            .chunks_exact(size)
            .position(|bytes| !finite(bytes))
        {
            Some(index) => Err(self.error(SafetensorsErrorKind::NonFinite { index })),
            None => Ok(()),
        }
    }

    /// Checks dtype and exact shape.
    ///
    /// # Errors
    /// [`WrongDtype`](SafetensorsErrorKind::WrongDtype) or
    /// [`WrongShape`](SafetensorsErrorKind::WrongShape).
    pub fn check_dtype_shape(&self, dtype: Dtype, shape: &[usize]) -> Result<(), SafetensorsError> {
        if self.dtype != dtype {
            return Err(self.error(SafetensorsErrorKind::WrongDtype {
                expected: dtype,
                found: self.dtype,
            }));
        }
        if self.shape() != shape {
            return Err(self.error(SafetensorsErrorKind::WrongShape {
                expected: Dims::new(shape),
                found: Dims::new(self.shape()),
            }));
        }
        Ok(())
    }
}
