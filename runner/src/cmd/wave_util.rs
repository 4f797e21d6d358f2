//! Minimal private helpers for the wave commands: `.npy` f32 I/O, atomic writes, a
//! spinning thread-pool executor and a progress line.
//!
//! TEMPORARY: the shared runner infrastructure (npy.rs, atomic.rs, exec.rs, progress.rs)
//! is being built on another branch; switch these call sites over when it lands.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use powerpost_core::exec::Executor;

/// An f32 array read from `.npy`.
pub struct Array {
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// Reads a little-endian f32 (or f64, converted) C-order `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ctx = || format!("{}: not a valid .npy file", path.display());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("{}: missing the .npy magic string", ctx());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => bail!("{}: unsupported .npy version {v}", ctx()),
    };
    let header = bytes.get(start..start + hlen).with_context(ctx)?;
    let header = std::str::from_utf8(header).with_context(ctx)?;
    let field = |key: &str| -> Result<&str> {
        let i = header.find(&format!("'{key}'")).with_context(|| format!("{}: header has no `{key}`", path.display()))?;
        Ok(header[i + key.len() + 2..].trim_start().trim_start_matches(':').trim_start())
    };
    let descr = field("descr")?;
    let elem = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        bail!("{}: field `descr` is {}, expected '<f4' or '<f8' (little-endian float)", path.display(), &descr[..descr.find(',').unwrap_or(descr.len())]);
    };
    if field("fortran_order")?.starts_with("True") {
        bail!("{}: field `fortran_order` is True, expected C order", path.display());
    }
    let shape_txt = field("shape")?;
    let open = shape_txt.find('(').with_context(ctx)?;
    let close = shape_txt.find(')').with_context(ctx)?;
    let shape: Vec<usize> = shape_txt[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{}: field `shape` is not a tuple of integers", path.display()))?;
    let n: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    if body.len() != n * elem {
        bail!("{}: data has {} bytes, expected {} for shape {:?}", path.display(), body.len(), n * elem, shape);
    }
    let data: Vec<f32> = if elem == 4 {
        body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else {
        body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect()
    };
    Ok(Array { shape, data })
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{}: not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Writes an f32 array as `.npy` (version 1.0, C order) atomically.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

type Task<'a> = &'a (dyn Fn(usize) + Sync);

/// Counters of one `for_each` call (fresh per call, so stale helpers never touch a newer
/// call's tasks).
struct Counters {
    n: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

/// The current job: the task with its lifetime erased (valid while `for_each` waits for
/// all its tasks) and its counters.
type Job = Option<(Task<'static>, Arc<Counters>)>;

/// A persistent pool: helpers spin (then yield) waiting for work; the caller joins in.
pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

struct Shared {
    generation: AtomicUsize,
    stop: AtomicBool,
    job: Mutex<Job>,
}

impl Pool {
    /// A pool running tasks on `threads` threads (the caller counts as one).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let shared = Arc::new(Shared { generation: AtomicUsize::new(0), stop: AtomicBool::new(false), job: Mutex::new(None) });
        let handles = (1..threads)
            .map(|_| {
                let sh = shared.clone();
                std::thread::spawn(move || {
                    let mut seen = 0;
                    loop {
                        let mut spins = 0u32;
                        loop {
                            if sh.stop.load(Ordering::Acquire) {
                                return;
                            }
                            let g = sh.generation.load(Ordering::Acquire);
                            if g != seen {
                                seen = g;
                                break;
                            }
                            spins += 1;
                            if spins < 20_000 {
                                std::hint::spin_loop();
                            } else {
                                std::thread::yield_now();
                            }
                        }
                        let job = sh.job.lock().map(|j| j.clone()).unwrap_or(None);
                        if let Some((task, counters)) = job {
                            run_tasks(&counters, task);
                        }
                    }
                })
            })
            .collect();
        Self { threads, shared, handles }
    }
}

fn run_tasks(c: &Counters, task: Task<'_>) {
    loop {
        let i = c.next.fetch_add(1, Ordering::AcqRel);
        if i >= c.n {
            break;
        }
        task(i);
        c.done.fetch_add(1, Ordering::AcqRel);
    }
}

impl Executor for Pool {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 || n <= 1 {
            for i in 0..n {
                task(i);
            }
            return;
        }
        let sh = &self.shared;
        let counters = Arc::new(Counters { n, next: AtomicUsize::new(0), done: AtomicUsize::new(0) });
        // SAFETY: only the lifetime is erased. Helpers call the task only for indices
        // below `n` taken from this call's counters, and this call returns only after all
        // `n` tasks have finished; the job is cleared before returning.
        let erased: Task<'static> = unsafe { std::mem::transmute::<Task<'_>, Task<'static>>(task) };
        if let Ok(mut j) = sh.job.lock() {
            *j = Some((erased, counters.clone()));
        }
        sh.generation.fetch_add(1, Ordering::AcqRel);
        run_tasks(&counters, task);
        while counters.done.load(Ordering::Acquire) < n {
            std::hint::spin_loop();
        }
        if let Ok(mut j) = sh.job.lock() {
            *j = None;
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A one-line progress indicator on stderr.
pub struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    start: std::time::Instant,
}

impl Progress {
    /// Starts a progress line for `total` items.
    pub fn new(label: &str, total: usize) -> Self {
        let p = Self { label: label.to_string(), total, done: AtomicUsize::new(0), start: std::time::Instant::now() };
        p.draw(0);
        p
    }

    /// Marks one more item done.
    pub fn inc(&self) {
        let d = self.done.fetch_add(1, Ordering::AcqRel) + 1;
        self.draw(d);
    }

    fn draw(&self, d: usize) {
        let width = 30;
        let filled = if self.total == 0 { width } else { d * width / self.total };
        eprint!(
            "\r{} [{}{}] {}/{} {:.1}s",
            self.label,
            "#".repeat(filled),
            "-".repeat(width - filled),
            d,
            self.total,
            self.start.elapsed().as_secs_f64()
        );
        if d == self.total {
            eprintln!();
        }
    }
}
