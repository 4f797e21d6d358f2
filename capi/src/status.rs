//! Status codes, the optional error record, and the guard every entry point runs in.
//!
//! Every fallible function returns a [`powerpost_status`] (an `int32_t` in C) and, when
//! its last argument `error` is not NULL, fills a [`powerpost_error`] with the details:
//! the offending argument, buffer or tensor name, the expected and actual lengths, and the
//! core's full message. Nothing is allocated: names and messages are copied (truncated if
//! needed, always NUL-terminated) into fixed arrays inside the record.
//!
//! [`guard`] runs the body of every entry point under `catch_unwind`, so that a panic
//! (which the core is designed never to raise on bad input) becomes
//! [`powerpost_status::POWERPOST_INTERNAL`] instead of unwinding into C.

use core::ffi::c_char;
use core::fmt::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use powerpost_core::Error;

/// Result of every fallible function (`typedef int32_t powerpost_status` in C).
///
/// The numeric values are part of the ABI and never change; new codes are only added.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum powerpost_status {
    /// Success.
    POWERPOST_OK = 0,
    /// A caller buffer has the wrong length; `expected`/`actual` in [`powerpost_error`]
    /// give the needed and the given number of elements (see the matching `*_len()`).
    POWERPOST_BUFFER_LENGTH = 1,
    /// An argument is out of range, not finite (NaN, infinity), misaligned, or two
    /// buffers overlap; `name` says which.
    POWERPOST_INVALID_ARGUMENT = 2,
    /// A weights buffer is not a valid safetensors file, or misses/mis-shapes a tensor,
    /// or holds a non-finite value; `name` is the tensor or metadata key, if any.
    POWERPOST_WEIGHTS = 3,
    /// The weights were made for another network architecture (preset).
    POWERPOST_ARCHITECTURE_MISMATCH = 4,
    /// A result became NaN or infinite (e.g. a diverged sample); `name` says which.
    POWERPOST_NON_FINITE = 5,
    /// The preset's time step is unstable for this velocity model; `expected` is the
    /// largest stable step and `actual` the step, both in nanoseconds.
    POWERPOST_UNSTABLE_TIME_STEP = 6,
    /// The grid is too coarse for this velocity model (numerical dispersion); `actual`
    /// is the points per wavelength × 100, `expected` the required minimum × 100.
    POWERPOST_TOO_DISPERSIVE = 7,
    /// A required pointer is NULL (with a non-zero length); `name` says which.
    POWERPOST_NULL_POINTER = 8,
    /// A bug in powerpost: a caught panic, or a core error this adapter does not know.
    POWERPOST_INTERNAL = 9,
    /// A compute device (e.g. a Vulkan GPU backend) failed; `name` says while doing
    /// what. Not returned by the CPU functions of this library today.
    POWERPOST_DEVICE = 10,
}

/// Every status, in numeric order.
pub(crate) const ALL_STATUSES: [powerpost_status; 11] = [
    powerpost_status::POWERPOST_OK,
    powerpost_status::POWERPOST_BUFFER_LENGTH,
    powerpost_status::POWERPOST_INVALID_ARGUMENT,
    powerpost_status::POWERPOST_WEIGHTS,
    powerpost_status::POWERPOST_ARCHITECTURE_MISMATCH,
    powerpost_status::POWERPOST_NON_FINITE,
    powerpost_status::POWERPOST_UNSTABLE_TIME_STEP,
    powerpost_status::POWERPOST_TOO_DISPERSIVE,
    powerpost_status::POWERPOST_NULL_POINTER,
    powerpost_status::POWERPOST_INTERNAL,
    powerpost_status::POWERPOST_DEVICE,
];

impl powerpost_status {
    /// The one-line description returned by [`powerpost_status_message`].
    pub const fn message(self) -> &'static core::ffi::CStr {
        use powerpost_status as S;
        match self {
            S::POWERPOST_OK => c"success",
            S::POWERPOST_BUFFER_LENGTH => {
                c"a buffer has the wrong length (see the matching *_len function)"
            }
            S::POWERPOST_INVALID_ARGUMENT => {
                c"an argument is invalid (out of range, not finite, misaligned or overlapping)"
            }
            S::POWERPOST_WEIGHTS => c"the weights are not a valid powerpost safetensors file",
            S::POWERPOST_ARCHITECTURE_MISMATCH => {
                c"the weights were made for another network architecture"
            }
            S::POWERPOST_NON_FINITE => c"a result became NaN or infinite",
            S::POWERPOST_UNSTABLE_TIME_STEP => c"the time step is unstable for this velocity model",
            S::POWERPOST_TOO_DISPERSIVE => c"the grid is too coarse for this velocity model",
            S::POWERPOST_NULL_POINTER => c"a required pointer is NULL",
            S::POWERPOST_INTERNAL => c"internal error in powerpost (please report it)",
            S::POWERPOST_DEVICE => c"the compute device failed",
        }
    }
}

/// Capacity of [`powerpost_error::name`], NUL included.
pub const POWERPOST_ERROR_NAME_LEN: usize = 64;
/// Capacity of [`powerpost_error::message`], NUL included.
pub const POWERPOST_ERROR_MESSAGE_LEN: usize = 256;

/// Details of the outcome of a call, written when its `error` argument is not NULL.
///
/// On success `status` is `POWERPOST_OK`, `name` and `message` are empty and the numbers
/// are zero. Plain data: no pointers, nothing to free.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct powerpost_error {
    /// The status the call returned.
    pub status: powerpost_status,
    /// The argument, buffer, tensor or metadata key concerned (NUL-terminated, may be
    /// empty).
    pub name: [c_char; POWERPOST_ERROR_NAME_LEN],
    /// `POWERPOST_BUFFER_LENGTH`: needed length; `POWERPOST_UNSTABLE_TIME_STEP`: largest
    /// stable step (ns); `POWERPOST_TOO_DISPERSIVE`: required points per wavelength × 100.
    pub expected: u64,
    /// `POWERPOST_BUFFER_LENGTH`: given length; `POWERPOST_UNSTABLE_TIME_STEP`: the step
    /// (ns); `POWERPOST_TOO_DISPERSIVE`: points per wavelength × 100.
    pub actual: u64,
    /// The full message, as the Rust API displays it (NUL-terminated, truncated to fit).
    pub message: [c_char; POWERPOST_ERROR_MESSAGE_LEN],
}

impl powerpost_error {
    /// A record for `status` with empty texts.
    pub const fn empty(status: powerpost_status) -> Self {
        Self {
            status,
            name: [0; POWERPOST_ERROR_NAME_LEN],
            expected: 0,
            actual: 0,
            message: [0; POWERPOST_ERROR_MESSAGE_LEN],
        }
    }

    /// `name` as a Rust string (up to the first NUL).
    pub fn name_str(&self) -> &str {
        c_text(&self.name)
    }

    /// `message` as a Rust string (up to the first NUL).
    pub fn message_str(&self) -> &str {
        c_text(&self.message)
    }
}

/// The text of a NUL-terminated fixed array.
fn c_text(bytes: &[c_char]) -> &str {
    // SAFETY: c_char and u8 have the same size and alignment.
    let bytes: &[u8] = unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end]).unwrap_or("")
}

/// Everything an entry point can fail with: a core error or a NULL pointer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// An error of the core (or a check of this adapter phrased as one).
    Core(Error),
    /// A NULL pointer where memory was required.
    NullPointer {
        /// The parameter.
        name: &'static str,
    },
    /// A caught panic.
    Panic,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Core(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Core(error) => fmt::Display::fmt(error, f),
            Failure::NullPointer { name } => write!(f, "`{name}` is NULL"),
            Failure::Panic => f.write_str(
                "internal error: powerpost panicked (a bug; please report it with the inputs)",
            ),
        }
    }
}

/// The status code of a core error.
pub fn status_of_error(error: &Error) -> powerpost_status {
    use powerpost_status as S;
    match error {
        Error::BufferLength { .. } => S::POWERPOST_BUFFER_LENGTH,
        Error::InvalidArgument { .. } => S::POWERPOST_INVALID_ARGUMENT,
        Error::UnstableTimeStep { .. } => S::POWERPOST_UNSTABLE_TIME_STEP,
        Error::TooDispersive { .. } => S::POWERPOST_TOO_DISPERSIVE,
        Error::Weights(_) => S::POWERPOST_WEIGHTS,
        Error::ArchitectureMismatch => S::POWERPOST_ARCHITECTURE_MISMATCH,
        Error::NonFinite { .. } => S::POWERPOST_NON_FINITE,
        Error::Device { .. } => S::POWERPOST_DEVICE,
        // `Error` is non-exhaustive: a variant added to the core later is reported as
        // internal until it gets its own code here.
        _ => S::POWERPOST_INTERNAL,
    }
}

/// The status code of a failure.
pub fn status_of(failure: &Failure) -> powerpost_status {
    match failure {
        Failure::Core(error) => status_of_error(error),
        Failure::NullPointer { .. } => powerpost_status::POWERPOST_NULL_POINTER,
        Failure::Panic => powerpost_status::POWERPOST_INTERNAL,
    }
}

/// The error record describing `failure`.
pub fn record_of(failure: &Failure) -> powerpost_error {
    let mut record = powerpost_error::empty(status_of(failure));
    let mut name = FixedText::new(&mut record.name);
    let (expected, actual) = match failure {
        Failure::Core(Error::BufferLength {
            buffer,
            expected,
            actual,
        }) => {
            name.push(buffer);
            (*expected as u64, *actual as u64)
        }
        Failure::Core(Error::InvalidArgument { name: n, .. })
        | Failure::Core(Error::NonFinite { name: n })
        | Failure::Core(Error::Device { what: n })
        | Failure::NullPointer { name: n } => {
            name.push(n);
            (0, 0)
        }
        Failure::Core(Error::UnstableTimeStep { dt_ns, max_dt_ns }) => (*max_dt_ns, *dt_ns),
        Failure::Core(Error::TooDispersive {
            points_per_wavelength_x100,
            required_x100,
        }) => (
            u64::from(*required_x100),
            u64::from(*points_per_wavelength_x100),
        ),
        Failure::Core(Error::Weights(e)) => {
            name.push(e.name().unwrap_or(""));
            (0, 0)
        }
        _ => (0, 0),
    };
    record.expected = expected;
    record.actual = actual;
    let mut message = FixedText::new(&mut record.message);
    let _ = write!(message, "{failure}");
    record
}

/// A `fmt::Write` into a fixed `c_char` array that keeps a terminating NUL and truncates
/// at a character boundary.
pub struct FixedText<'a> {
    buffer: &'a mut [c_char],
    len: usize,
}

impl<'a> FixedText<'a> {
    /// An empty text over `buffer` (which is zeroed).
    pub fn new(buffer: &'a mut [c_char]) -> Self {
        buffer.fill(0);
        Self { buffer, len: 0 }
    }

    /// Appends as much of `s` as fits (whole characters only).
    pub fn push(&mut self, s: &str) {
        let room = self.buffer.len().saturating_sub(1).saturating_sub(self.len);
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        for (dst, &b) in self.buffer[self.len..]
            .iter_mut()
            .zip(&s.as_bytes()[..take])
        {
            *dst = b as c_char;
        }
        self.len += take;
    }
}

impl Write for FixedText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s);
        Ok(())
    }
}

/// Writes `record` to `error` when it is a usable pointer (NULL or misaligned: ignored).
///
/// # Safety
/// `error` is NULL or points to writable memory for one `powerpost_error`.
unsafe fn report(error: *mut powerpost_error, record: powerpost_error) {
    if !error.is_null() && error.is_aligned() {
        // SAFETY: non-NULL and aligned; the caller guarantees it is writable.
        unsafe { error.write(record) };
    }
}

/// Runs the body of an entry point: catches panics, maps the outcome to a status and fills
/// `*error` if given.
///
/// # Safety
/// `error` is NULL or points to writable memory for one `powerpost_error`.
pub unsafe fn guard(
    error: *mut powerpost_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> powerpost_status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(Failure::Panic));
    let (status, record) = match outcome {
        Ok(()) => (
            powerpost_status::POWERPOST_OK,
            powerpost_error::empty(powerpost_status::POWERPOST_OK),
        ),
        Err(failure) => (status_of(&failure), record_of(&failure)),
    };
    // SAFETY: forwarded from the caller.
    unsafe { report(error, record) };
    status
}

/// Runs the body of a `*_len()` function: catches panics; any failure gives 0.
pub fn guard_len(body: impl FnOnce() -> Result<usize, Failure>) -> usize {
    catch_unwind(AssertUnwindSafe(body))
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0)
}

/// A static NUL-terminated description of `status` (an unknown code gives a text saying
/// so). Never NULL; the string must not be freed.
#[no_mangle]
pub extern "C" fn powerpost_status_message(status: i32) -> *const c_char {
    ALL_STATUSES
        .iter()
        .find(|s| **s as i32 == status)
        .map_or(c"unknown status code", |s| s.message())
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerpost_core::safetensors::{SafetensorsError, SafetensorsErrorKind};

    /// One value of every core error variant.
    fn every_core_error() -> [Error; 8] {
        [
            Error::BufferLength {
                buffer: "scratch",
                expected: 10,
                actual: 3,
            },
            Error::InvalidArgument {
                name: "lambda",
                expected: "a finite number >= 0",
            },
            Error::UnstableTimeStep {
                dt_ns: 1_250_000,
                max_dt_ns: 900_000,
            },
            Error::TooDispersive {
                points_per_wavelength_x100: 412,
                required_x100: 600,
            },
            Error::Weights(SafetensorsError::named(
                SafetensorsErrorKind::NotFound,
                "emb.fc0.weight",
            )),
            Error::ArchitectureMismatch,
            Error::NonFinite { name: "sample" },
            Error::Device {
                what: "running the network",
            },
        ]
    }

    #[test]
    fn every_core_error_has_its_own_code_and_message() {
        let errors = every_core_error();
        let mut seen = Vec::new();
        for error in &errors {
            let status = status_of_error(error);
            assert_ne!(status, powerpost_status::POWERPOST_OK, "{error:?}");
            assert_ne!(status, powerpost_status::POWERPOST_INTERNAL, "{error:?}");
            assert!(!seen.contains(&status), "{error:?} shares {status:?}");
            seen.push(status);
            let record = record_of(&Failure::Core(*error));
            assert_eq!(record.status, status);
            // The record's message is the core's own Display text (all fit in 255 bytes).
            assert_eq!(record.message_str(), error.to_string());
            assert!(!status.message().to_bytes().is_empty());
        }
        // Adapter-only failures have codes of their own, distinct from the core's.
        for extra in [Failure::NullPointer { name: "out" }, Failure::Panic] {
            let status = status_of(&extra);
            assert!(!seen.contains(&status), "{extra:?}");
            seen.push(status);
        }
        assert_eq!(
            seen.len() + 1,
            ALL_STATUSES.len(),
            "every non-OK code is used"
        );
    }

    #[test]
    fn records_carry_names_and_numbers() {
        let [buffer, argument, unstable, dispersive, weights, _, non_finite, device] =
            every_core_error();
        let r = record_of(&Failure::Core(buffer));
        assert_eq!((r.name_str(), r.expected, r.actual), ("scratch", 10, 3));
        assert_eq!(record_of(&Failure::Core(argument)).name_str(), "lambda");
        let r = record_of(&Failure::Core(unstable));
        assert_eq!((r.expected, r.actual), (900_000, 1_250_000));
        let r = record_of(&Failure::Core(dispersive));
        assert_eq!((r.expected, r.actual), (600, 412));
        assert_eq!(
            record_of(&Failure::Core(weights)).name_str(),
            "emb.fc0.weight"
        );
        assert_eq!(record_of(&Failure::Core(non_finite)).name_str(), "sample");
        assert_eq!(
            record_of(&Failure::Core(device)).name_str(),
            "running the network"
        );
        let r = record_of(&Failure::NullPointer { name: "params" });
        assert_eq!(r.name_str(), "params");
        assert_eq!(r.message_str(), "`params` is NULL");
    }

    #[test]
    fn status_messages_are_distinct_and_static() {
        let mut texts = Vec::new();
        for status in ALL_STATUSES {
            let ptr = powerpost_status_message(status as i32);
            // SAFETY: the function returns a static NUL-terminated string.
            let text = unsafe { core::ffi::CStr::from_ptr(ptr) }.to_str().unwrap();
            assert!(!text.is_empty());
            assert!(!texts.contains(&text), "{text}");
            texts.push(text);
        }
        for (i, status) in ALL_STATUSES.iter().enumerate() {
            assert_eq!(*status as i32, i as i32, "codes are dense from 0");
        }
        // SAFETY: as above.
        let unknown = unsafe { core::ffi::CStr::from_ptr(powerpost_status_message(-7)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown status code");
    }

    #[test]
    fn long_texts_are_truncated_at_a_character_boundary() {
        let mut buffer = [1 as c_char; 8];
        let mut text = FixedText::new(&mut buffer);
        text.push("ab");
        text.push("σσσσ"); // 2 bytes each: only two fit after "ab" (7 usable bytes)
        assert_eq!(c_text(&buffer), "abσσ");
        assert_eq!(buffer[7], 0);
        assert_eq!(buffer[6], 0);
    }

    #[test]
    fn guard_catches_panics_and_fills_the_record() {
        let mut record = powerpost_error::empty(powerpost_status::POWERPOST_OK);
        // (The default hook prints the panic message to stderr; that is expected here.)
        // SAFETY: `record` is a valid, writable record.
        let status = unsafe { guard(&mut record, || panic!("boom")) };
        assert_eq!(status, powerpost_status::POWERPOST_INTERNAL);
        assert_eq!(record.status, status);
        assert!(record.message_str().contains("panicked"));
        // SAFETY: as above; NULL is allowed.
        let ok = unsafe { guard(core::ptr::null_mut(), || Ok(())) };
        assert_eq!(ok, powerpost_status::POWERPOST_OK);
        assert_eq!(guard_len(|| panic!("len")), 0);
    }
}
