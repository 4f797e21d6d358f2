//! Turning C pointers and lengths into slices, checked.
//!
//! Rules (the same for every entry point):
//! - a NULL pointer with length 0 is an empty buffer (the core then reports a wrong length
//!   if it needed more); a NULL pointer with a non-zero length is
//!   `POWERPOST_NULL_POINTER`;
//! - a pointer not aligned for its element type, or a length whose byte size exceeds
//!   `isize::MAX`, is `POWERPOST_INVALID_ARGUMENT`;
//! - an output buffer that overlaps any other buffer of the same call is
//!   `POWERPOST_INVALID_ARGUMENT` (Rust forbids aliasing a buffer that is written; check
//!   with [`disjoint`] before making the slices).
//!
//! What cannot be checked — that the memory is really allocated, initialised (for inputs)
//! and not written by another thread during the call — is the caller's promise (each
//! function's `# Safety` section).

use core::mem::{align_of, size_of};

use powerpost_core::Error;

use crate::status::Failure;

/// A buffer as given by C: start address, length in elements, element size, parameter
/// name, and whether the call writes it.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    name: &'static str,
    start: usize,
    bytes: usize,
    written: bool,
}

impl Span {
    /// An input buffer.
    pub fn input<T>(name: &'static str, ptr: *const T, len: usize) -> Self {
        Self {
            name,
            start: ptr as usize,
            bytes: len.saturating_mul(size_of::<T>()),
            written: false,
        }
    }

    /// An output (or in-out) buffer.
    pub fn output<T>(name: &'static str, ptr: *mut T, len: usize) -> Self {
        Self {
            written: true,
            ..Self::input(name, ptr.cast_const(), len)
        }
    }

    fn overlaps(&self, other: &Span) -> bool {
        self.bytes > 0
            && other.bytes > 0
            && self.start < other.start.saturating_add(other.bytes)
            && other.start < self.start.saturating_add(self.bytes)
    }
}

/// Fails if a written buffer overlaps any other buffer.
///
/// # Errors
/// [`Failure::Core`] with [`Error::InvalidArgument`] naming the written buffer.
pub fn disjoint(spans: &[Span]) -> Result<(), Failure> {
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if (a.written || b.written) && a.overlaps(b) {
                let name = if a.written { a.name } else { b.name };
                return Err(Failure::Core(Error::InvalidArgument {
                    name,
                    expected: "a buffer that does not overlap the call's other buffers",
                }));
            }
        }
    }
    Ok(())
}

/// Checks pointer, alignment and size of a buffer of `len` elements.
fn check<T>(name: &'static str, ptr: *const T, len: usize) -> Result<(), Failure> {
    if len == 0 {
        return Ok(());
    }
    if ptr.is_null() {
        return Err(Failure::NullPointer { name });
    }
    if !(ptr as usize).is_multiple_of(align_of::<T>()) {
        return Err(Failure::Core(Error::InvalidArgument {
            name,
            expected: "a pointer aligned for its element type (4 bytes for float)",
        }));
    }
    if len > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(Failure::Core(Error::InvalidArgument {
            name,
            expected: "a length whose byte size fits in isize",
        }));
    }
    Ok(())
}

/// An input slice.
///
/// # Safety
/// Unless NULL, `ptr` points to `len` initialised elements that nothing writes while the
/// returned slice lives.
///
/// # Errors
/// As the module docs.
pub unsafe fn input<'a, T>(
    name: &'static str,
    ptr: *const T,
    len: usize,
) -> Result<&'a [T], Failure> {
    check(name, ptr, len)?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: non-NULL, aligned, size in range (checked); valid and unaliased by the
    // caller's promise.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// An optional input slice: NULL gives `None`.
///
/// # Safety
/// As [`input`].
///
/// # Errors
/// As the module docs.
pub unsafe fn optional_input<'a, T>(
    name: &'static str,
    ptr: *const T,
    len: usize,
) -> Result<Option<&'a [T]>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded.
    unsafe { input(name, ptr, len) }.map(Some)
}

/// An output slice.
///
/// # Safety
/// Unless NULL, `ptr` points to `len` writable elements (initialised: f32 and u8 buffers
/// may hold any bits) that nothing else reads or writes while the returned slice lives;
/// callers check with [`disjoint`] that no other buffer of the call overlaps it.
///
/// # Errors
/// As the module docs.
pub unsafe fn output<'a, T>(
    name: &'static str,
    ptr: *mut T,
    len: usize,
) -> Result<&'a mut [T], Failure> {
    check(name, ptr.cast_const(), len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    // SAFETY: as in `input`, plus exclusivity by the caller's promise and `disjoint`.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// An optional output slice: NULL gives `None`.
///
/// # Safety
/// As [`output`].
///
/// # Errors
/// As the module docs.
pub unsafe fn optional_output<'a, T>(
    name: &'static str,
    ptr: *mut T,
    len: usize,
) -> Result<Option<&'a mut [T]>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded.
    unsafe { output(name, ptr, len) }.map(Some)
}

/// A required pointer to one value.
///
/// # Safety
/// Unless NULL, `ptr` points to an initialised `T` that nothing writes during the call.
///
/// # Errors
/// [`Failure::NullPointer`] for NULL, [`Error::InvalidArgument`] if misaligned.
pub unsafe fn value<'a, T>(name: &'static str, ptr: *const T) -> Result<&'a T, Failure> {
    if ptr.is_null() {
        return Err(Failure::NullPointer { name });
    }
    // SAFETY: forwarded.
    let slice = unsafe { input(name, ptr, 1) }?;
    Ok(&slice[0])
}

/// A required pointer to one value to write.
///
/// # Safety
/// Unless NULL, `ptr` points to writable memory for one `T` that nothing else uses during
/// the call.
///
/// # Errors
/// [`Failure::NullPointer`] for NULL, [`Error::InvalidArgument`] if misaligned.
pub unsafe fn out_value<T>(name: &'static str, ptr: *mut T, value: T) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(Failure::NullPointer { name });
    }
    check(name, ptr.cast_const(), 1)?;
    // SAFETY: non-NULL and aligned (checked), writable by the caller's promise. `write`
    // does not read or drop the old (possibly uninitialised) contents.
    unsafe { ptr.write(value) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_empty_misaligned_and_oversized() {
        // SAFETY: only NULL / empty / rejected pointers are passed.
        unsafe {
            assert_eq!(input::<f32>("x", core::ptr::null(), 0).unwrap().len(), 0);
            assert_eq!(
                input::<f32>("x", core::ptr::null(), 3).unwrap_err(),
                Failure::NullPointer { name: "x" }
            );
            let data = [0u32; 4];
            let odd = (data.as_ptr() as *const u8).add(1) as *const f32;
            assert!(matches!(
                input::<f32>("x", odd, 1),
                Err(Failure::Core(Error::InvalidArgument { name: "x", .. }))
            ));
            let aligned = data.as_ptr() as *const f32;
            assert!(matches!(
                input::<f32>("x", aligned, usize::MAX / 2),
                Err(Failure::Core(Error::InvalidArgument { .. }))
            ));
            assert!(optional_input::<f32>("x", core::ptr::null(), 5)
                .unwrap()
                .is_none());
        }
    }

    #[test]
    fn overlap_of_written_buffers_is_refused() {
        let mut data = [0.0f32; 8];
        let base = data.as_mut_ptr();
        // SAFETY: offsets stay inside `data`.
        let (a, b) = unsafe { (base, base.add(4)) };
        let ok = [Span::input("in", a, 4), Span::output("out", b, 4)];
        assert!(disjoint(&ok).is_ok());
        let bad = [Span::input("in", a, 5), Span::output("out", b, 4)];
        assert!(matches!(
            disjoint(&bad),
            Err(Failure::Core(Error::InvalidArgument { name: "out", .. }))
        ));
        // Two inputs may overlap; empty buffers never overlap.
        assert!(disjoint(&[Span::input("p", a, 8), Span::input("q", a, 8)]).is_ok());
        assert!(disjoint(&[Span::output("p", a, 0), Span::input("q", a, 8)]).is_ok());
    }
}
