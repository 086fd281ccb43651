//! The guest's stdin, stdout and stderr: the process's own fds 0, 1, 2.
//!
//! wasmer-wasix's defaults go through tokio's stdio, which writes through
//! Rust's line-buffered `std::io::Stdout` on a blocking thread and reads
//! stdin ahead on another thread that outlives the guest. [`HostStdio`]
//! instead reads and writes the file descriptor directly on the guest's
//! thread: nothing is buffered, nothing is lost when init exits right after
//! the guest, and the fds may be pipes, files or a tty alike.

use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use wasmer_wasix::virtual_fs::{self, AsyncRead, AsyncSeek, AsyncWrite, ReadBuf, VirtualFile};

use crate::nudge::Nudge;

/// Room reported to a guest polling a standard stream for writing.
const WRITE_ROOM: usize = 8192;

/// One of the process's standard streams, used without any buffering.
#[derive(Debug)]
pub(crate) struct HostStdio {
    fd: RawFd,
    readable: Arc<ReadableWatch>,
}

impl HostStdio {
    /// The process's stdin; `nudge` is nudged when a polled stdin becomes
    /// readable.
    pub(crate) fn stdin(nudge: &Arc<Nudge>) -> Box<Self> {
        Self::new(libc::STDIN_FILENO, nudge)
    }

    /// The process's stdout.
    pub(crate) fn stdout(nudge: &Arc<Nudge>) -> Box<Self> {
        Self::new(libc::STDOUT_FILENO, nudge)
    }

    /// The process's stderr.
    pub(crate) fn stderr(nudge: &Arc<Nudge>) -> Box<Self> {
        Self::new(libc::STDERR_FILENO, nudge)
    }

    fn new(fd: RawFd, nudge: &Arc<Nudge>) -> Box<Self> {
        Box::new(HostStdio {
            fd,
            readable: Arc::new(ReadableWatch::new(Arc::clone(nudge))),
        })
    }
}

/// Waits, on a thread of its own, for a stream a guest polls to become
/// readable: the fd may be a regular file or a tty, which tokio's reactor
/// cannot watch, and the guest must not block in `poll_oneoff`. The guest
/// may be sleeping on its thread (a poll with a timeout, see `tasks`):
/// the watcher nudges it as well as waking it.
#[derive(Debug)]
struct ReadableWatch {
    waiting: AtomicBool,
    waker: Mutex<Option<Waker>>,
    nudge: Arc<Nudge>,
}

impl ReadableWatch {
    fn new(nudge: Arc<Nudge>) -> Self {
        ReadableWatch {
            waiting: AtomicBool::new(false),
            waker: Mutex::new(None),
            nudge,
        }
    }

    fn wake_when_readable(self: &Arc<Self>, fd: RawFd, waker: &Waker) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker.clone());
        if self.waiting.swap(true, Ordering::AcqRel) {
            return;
        }
        let watch = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("wasmer-stdin".into())
            .spawn(move || {
                // Whatever poll says (ready, hung up, error), the guest's
                // next look at the stream finds out.
                let _ = wait_for(fd, libc::POLLIN);
                watch.waiting.store(false, Ordering::Release);
                if let Some(w) = watch.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    w.wake();
                }
                watch.nudge.nudge();
            });
        if spawned.is_err() {
            // Without a watcher, wake at once: the guest polls again.
            self.waiting.store(false, Ordering::Release);
            waker.wake_by_ref();
        }
    }
}

/// Blocks until `fd` has one of `events` (or an error or hang-up).
fn wait_for(fd: RawFd, events: libc::c_short) -> io::Result<()> {
    ready(fd, events, -1).map(drop)
}

/// Polls `fd` for `events`, waiting at most `timeout_ms` (-1: forever).
fn ready(fd: RawFd, events: libc::c_short, timeout_ms: libc::c_int) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: pfd is a valid pollfd and we pass a count of one.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Bytes that can be read from `fd` without blocking, if the kernel says.
fn pending_bytes(fd: RawFd) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    (rc == 0).then_some(n.max(0) as usize)
}

/// Runs a read or write syscall, retrying on EINTR and waiting out EAGAIN
/// (an fd someone made non-blocking still behaves as a blocking one).
fn retry(fd: RawFd, events: libc::c_short, mut op: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = op();
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => wait_for(fd, events)?,
            _ => return Err(err),
        }
    }
}

impl AsyncRead for HostStdio {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let fd = self.fd;
        let unfilled = buf.initialize_unfilled();
        let result = retry(fd, libc::POLLIN, || {
            // SAFETY: unfilled is a valid, writable buffer of that length.
            unsafe { libc::read(fd, unfilled.as_mut_ptr().cast(), unfilled.len()) }
        });
        Poll::Ready(result.map(|n| buf.advance(n)))
    }
}

impl AsyncWrite for HostStdio {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let fd = self.fd;
        Poll::Ready(retry(fd, libc::POLLOUT, || {
            // SAFETY: buf is a valid, readable buffer of that length.
            unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }
        }))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every write went straight to the fd.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The fd belongs to the process (init reports errors through it).
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for HostStdio {
    fn start_seek(self: Pin<&mut Self>, _position: io::SeekFrom) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(0))
    }
}

impl VirtualFile for HostStdio {
    fn last_accessed(&self) -> u64 {
        0
    }

    fn last_modified(&self) -> u64 {
        0
    }

    fn created_time(&self) -> u64 {
        0
    }

    fn size(&self) -> u64 {
        0
    }

    fn set_len(&mut self, _new_size: u64) -> virtual_fs::Result<()> {
        Err(virtual_fs::FsError::PermissionDenied)
    }

    fn unlink(&mut self) -> virtual_fs::Result<()> {
        Ok(())
    }

    fn get_special_fd(&self) -> Option<u32> {
        Some(self.fd as u32)
    }

    fn poll_read_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match ready(self.fd, libc::POLLIN, 0) {
            // Zero bytes pending on a readable fd is end of file.
            Ok(true) => Poll::Ready(Ok(pending_bytes(self.fd).unwrap_or(1))),
            Ok(false) => {
                self.readable.wake_when_readable(self.fd, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(WRITE_ROOM))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::block_on;
    use std::future::poll_fn;
    use std::os::fd::{AsRawFd, OwnedFd};
    use wasmer_wasix::virtual_fs::{AsyncReadExt, AsyncWriteExt};

    fn pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = std::io::pipe().unwrap();
        (r.into(), w.into())
    }

    fn on(fd: &OwnedFd) -> HostStdio {
        HostStdio {
            fd: fd.as_raw_fd(),
            readable: Arc::new(ReadableWatch::new(Arc::new(Nudge::new().unwrap()))),
        }
    }

    #[test]
    fn writes_and_reads_go_straight_through() {
        let (r, w) = pipe();
        let mut out = on(&w);
        block_on(out.write_all(b"hello")).unwrap();
        let mut input = on(&r);
        let mut buf = [0u8; 16];
        let n = block_on(input.read(&mut buf)).unwrap();
        assert_eq!(&buf[..n], b"hello");
    }

    #[test]
    fn readiness_waits_for_data_and_reports_end_of_file() {
        let (r, w) = pipe();
        let mut input = on(&r);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let mut out = on(&w);
            block_on(out.write_all(b"abc")).unwrap();
            w
        });
        let n = block_on(poll_fn(|cx| Pin::new(&mut input).poll_read_ready(cx))).unwrap();
        assert_eq!(n, 3);
        let mut buf = [0u8; 3];
        block_on(input.read_exact(&mut buf)).unwrap();
        drop(writer.join().unwrap());
        let n = block_on(poll_fn(|cx| Pin::new(&mut input).poll_read_ready(cx))).unwrap();
        assert_eq!(n, 0);
    }
}
