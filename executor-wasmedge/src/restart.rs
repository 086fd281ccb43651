//! Waits inside libwasmedge that a stop or a freeze interrupts are resumed,
//! as the kernel itself resumes most blocking calls.
//!
//! WasmEdge's `poll_oneoff` (every `sleep` of a wasi-libc or Rust guest)
//! waits in `epoll_wait`, which the kernel never restarts: SIGSTOP and
//! SIGCONT, a freeze of the container's cgroup (`hako pause`, `podman
//! pause`, `ctr task pause`) or a ptrace attach make it fail with EINTR
//! although no handler ran. WasmEdge hands that to the guest, wasi-libc
//! turns any `poll_oneoff` failure into ENOTSUP, and a sleeping guest
//! aborts on a thaw. wasmtime and wasmer retry such waits themselves.
//!
//! So libwasmedge's own calls to `epoll_wait` (its PLT entry, nobody
//! else's) go through [`epoll_wait_resumed`], which retries an interrupted
//! wait with the time left. In a guest process nothing needs that EINTR:
//! the only handlers that can interrupt a wait are the executor chain's
//! stop handlers, and they end the process instead of returning.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Points libwasmedge's `epoll_wait` at [`epoll_wait_resumed`], once per
/// process. Returns why it could not, for a warning: the guest still runs,
/// only a pause may then end its sleeps.
pub(crate) fn install() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(hook).clone()
}

fn hook() -> Result<(), String> {
    let library = library_path()?;
    let object = plthook::ObjectFile::open_file(&library)
        .map_err(|e| format!("reading the plt of {}: {e}", library.display()))?;
    // SAFETY: the replacement has epoll_wait's exact C signature, and the
    // entry is patched before any guest runs (prepare, one thread).
    match unsafe { object.replace("epoll_wait", epoll_wait_resumed as *const c_void) } {
        // Kept for the life of the process: dropping restores the entry.
        Ok(mut replaced) => {
            replaced.discard();
            Ok(())
        }
        // A libwasmedge that does not wait in epoll_wait has nothing to
        // resume.
        Err(e) if matches!(e.kind(), plthook::ErrorKind::FunctionNotFound) => Ok(()),
        Err(e) => Err(format!("patching epoll_wait in {}: {e}", library.display())),
    }
}

/// The file libwasmedge was loaded from.
fn library_path() -> Result<std::path::PathBuf, String> {
    use std::os::unix::ffi::OsStrExt;
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let symbol = wasmedge_sys::ffi::WasmEdge_VersionGet as *const c_void;
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    let found = unsafe { libc::dladdr(symbol, info.as_mut_ptr()) };
    // SAFETY: zero-initialised, and filled by dladdr when it succeeds.
    let info = unsafe { info.assume_init() };
    if found == 0 || info.dli_fname.is_null() {
        return Err("finding the loaded libwasmedge".to_string());
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader,
    // alive as long as the library stays loaded (for good).
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Ok(std::ffi::OsStr::from_bytes(name.to_bytes()).into())
}

/// `epoll_wait`, retried while a stop or freeze interrupts it.
///
/// A finite timeout keeps its deadline: the retry waits for what is left,
/// and a deadline passed during the stop is a timeout (0 events).
unsafe extern "C" fn epoll_wait_resumed(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    let deadline = (timeout > 0)
        .then(|| Instant::now() + Duration::from_millis(timeout.unsigned_abs().into()));
    let mut left = timeout;
    loop {
        // SAFETY: the caller's arguments, passed through to libc's own
        // epoll_wait (this crate's PLT entry is not the patched one).
        let n = unsafe { libc::epoll_wait(epfd, events, maxevents, left) };
        if n != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return n;
        }
        if let Some(deadline) = deadline {
            match remaining_ms(deadline, Instant::now()) {
                0 => return 0,
                ms => left = ms,
            }
        }
    }
}

/// Whole milliseconds until `deadline`, rounded up so that a retry never
/// wakes before it; 0 once it has passed.
fn remaining_ms(deadline: Instant, now: Instant) -> c_int {
    let left = deadline.saturating_duration_since(now);
    let ms = left.as_nanos().div_ceil(1_000_000);
    c_int::try_from(ms).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_rounds_up_and_stops_at_the_deadline() {
        let now = Instant::now();
        assert_eq!(remaining_ms(now + Duration::from_micros(1), now), 1);
        assert_eq!(remaining_ms(now + Duration::from_millis(250), now), 250);
        assert_eq!(remaining_ms(now, now), 0);
        assert_eq!(remaining_ms(now, now + Duration::from_secs(1)), 0);
    }

    #[test]
    fn libwasmedge_is_found_and_patched() {
        assert!(library_path()
            .unwrap()
            .to_string_lossy()
            .contains("libwasmedge"));
        install().unwrap();
    }
}
