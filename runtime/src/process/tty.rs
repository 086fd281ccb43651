//! A terminal for a foreground `run` or `exec` without `--console-socket`
//! (as runc): hako receives the pty master itself, puts its own terminal
//! in raw mode, and copies bytes both ways until the container exits.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use nix::sys::termios::{self, SetArg, Termios};

use crate::error::{Context, Error, Result};

nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);

/// The two ends of the console socket hako gives itself.
pub fn socket_pair() -> Result<(UnixStream, OwnedFd)> {
    let (ours, theirs) = UnixStream::pair().ctx(|| "creating a console socket pair".into())?;
    Ok((ours, OwnedFd::from(theirs)))
}

/// Copies between hako's stdio and the container's pty.
pub struct Proxy {
    master: OwnedFd,
    saved: Option<Termios>,
    output: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Receives the master from the console socket and starts copying.
    pub fn start(socket: &UnixStream) -> Result<Proxy> {
        let mut buf = [0u8; 256];
        let (_, fd) = crate::process::channel::recv_with_fd(socket.as_fd(), &mut buf)
            .ctx(|| "receiving the console".into())?;
        let master = fd.ok_or_else(|| Error::invalid("the container sent no console"))?;
        let stdin = std::io::stdin();
        // Raw mode only when hako itself runs on a terminal.
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(orig) = &saved {
            let mut raw = orig.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
                .ctx(|| "making the terminal raw".into())?;
        }
        let mut proxy = Proxy {
            master,
            saved,
            output: None,
        };
        proxy.resize();
        let mut input = std::fs::File::from(
            proxy
                .master
                .try_clone()
                .ctx(|| "duplicating the console".into())?,
        );
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut input);
        });
        let mut output = std::fs::File::from(
            proxy
                .master
                .try_clone()
                .ctx(|| "duplicating the console".into())?,
        );
        let handle = std::thread::spawn(move || {
            let mut out = std::io::stdout().lock();
            let mut buf = [0u8; 8192];
            // EIO once the last slave descriptor closes: the container is done.
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 || out.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = out.flush();
            }
        });
        proxy.output = Some(handle);
        Ok(proxy)
    }

    /// Gives the container's terminal the size of hako's.
    pub fn resize(&self) {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a valid winsize; TIOCSWINSZ reads it.
        unsafe {
            if get_winsize(std::io::stdin().as_raw_fd(), &mut ws).is_ok() {
                let _ = set_winsize(self.master.as_raw_fd(), &ws);
            }
        }
    }

    /// Waits (briefly) for the last output and restores the terminal.
    pub fn finish(mut self) {
        if let Some(h) = self.output.take() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while !h.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(orig) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, orig);
        }
    }
}
