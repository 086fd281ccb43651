//! `process.terminal`: a pseudo-terminal whose master goes to the caller
//! over `--console-socket` (SCM_RIGHTS, as runc), whose slave becomes the
//! container's stdio, controlling terminal and /dev/console.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;

use crate::error::{Context, Result};
use crate::rootfs::secure::{self, Create, SafeRoot};
use crate::syscall::Syscall;

nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);

/// Creates the pty inside the container (after pivot_root, so it belongs
/// to the container's devpts), sends the master to `socket`, and makes the
/// slave the process's terminal — and, for container init, /dev/console.
pub fn setup(
    sys: &dyn Syscall,
    socket: &OwnedFd,
    size: Option<(u16, u16)>,
    bind_console: bool,
) -> Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "opening /dev/ptmx".into())?;
    grantpt(&master).ctx(|| "grantpt".into())?;
    unlockpt(&master).ctx(|| "unlockpt".into())?;
    let name = ptsname_r(&master).ctx(|| "ptsname".into())?;
    if let Some((height, width)) = size {
        let ws = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize that outlives the call.
        unsafe { set_winsize(master.as_raw_fd(), &ws) }
            .ctx(|| "setting the console size".into())?;
    }
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening {name}"))?;

    if bind_console {
        let root = SafeRoot::open(Path::new("/"))?;
        let console = root.resolve(Path::new("/dev/console"), Create::File)?;
        sys.mount(
            Some(Path::new(&name)),
            &secure::fd_path(&console),
            None,
            nix::mount::MsFlags::MS_BIND,
            None,
        )
        .ctx(|| format!("binding {name} to /dev/console"))?;
    }

    crate::process::channel::send_with_fd(
        socket.as_fd(),
        name.as_bytes(),
        Some(master.as_raw_fd()),
    )
    .ctx(|| "sending the console to --console-socket".into())?;
    drop(master);

    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors, which this process
        // owns; the old ones are replaced atomically.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(nix::errno::Errno::last())
                .ctx(|| format!("dup2 of the console to fd {target}"));
        }
    }
    // SAFETY: TIOCSCTTY on our own stdin, after setsid made us a session
    // leader without a controlling terminal.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(nix::errno::Errno::last())
            .ctx(|| "making the console the controlling terminal".into());
    }
    Ok(())
}
