//! stdio, preserved descriptors, socket activation and the console socket.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use hako_tests::{unique_id, Bundle, Hako};

#[test]
fn stdio_passes_straight_through() {
    let h = Hako::new();
    let b = Bundle::sh("read line; echo \"got $line\"; echo to-err >&2");
    let id = unique_id("stdio");
    let mut cmd = h.cmd();
    cmd.args(["run", "--bundle", &b.arg(), &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-err\n");
    assert!(out.status.success());
    h.assert_gone(&id, &b, None);
}

#[test]
fn only_stdio_reaches_the_container() {
    let h = Hako::new();
    // Leak a descriptor into hako the way a careless caller would.
    let leaked = std::fs::File::open("/etc/hostname").unwrap();
    let leaked_fd = leaked.as_raw_fd();
    let b = Bundle::sh("ls /proc/self/fd | tr '\\n' ' '");
    let id = unique_id("leak");
    let mut cmd = h.cmd();
    cmd.args(["run", "--bundle", &b.arg(), &id])
        .stdin(Stdio::null());
    // SAFETY: pre_exec only clears close-on-exec on an open descriptor.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(leaked_fd, libc::F_GETFD);
            libc::fcntl(leaked_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let out = h.exec(cmd).ok();
    // 0, 1, 2 and the descriptor ls opened for /proc/self/fd.
    let fds: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(fds.len(), 4, "unexpected descriptors: {fds:?}");
    assert_eq!(&fds[..3], &["0", "1", "2"]);
    drop(leaked);
    h.assert_gone(&id, &b, None);
}

#[test]
fn preserve_fds_and_listen_fds() {
    let h = Hako::new();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "preserved content\n").unwrap();
    let b = Bundle::sh("cat <&3; cat <&4; echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; ls /proc/self/fd | wc -l");
    let id = unique_id("pfd");
    let f3 = std::fs::File::open(file.path()).unwrap();
    let second = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(second.path(), "listened\n").unwrap();
    let f4 = std::fs::File::open(second.path()).unwrap();
    let (a, b4) = (f3.as_raw_fd(), f4.as_raw_fd());
    // LISTEN_PID must name hako itself (systemd's protocol): a shell sets
    // it to its own pid and execs hako, which keeps that pid.
    let hako = h.cmd();
    let command = |listen_pid: &str| {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!("LISTEN_PID={listen_pid} exec \"$0\" \"$@\""))
            .arg(hako.get_program())
            .args(hako.get_args())
            .args(["run", "--preserve-fds", "1", "--bundle", &b.arg(), &id])
            .env("LISTEN_FDS", "1")
            .stdin(Stdio::null());
        // SAFETY: dup2 onto fixed numbers in the child before exec.
        unsafe {
            cmd.pre_exec(move || {
                // dup first: a or b4 may already be 3 or 4.
                let (a2, b2) = (libc::dup(a), libc::dup(b4));
                libc::dup2(a2, 3);
                libc::dup2(b2, 4);
                // The offsets are shared with the test's files: rewind
                // what an earlier run read.
                libc::lseek(3, 0, libc::SEEK_SET);
                libc::lseek(4, 0, libc::SEEK_SET);
                Ok(())
            });
        }
        cmd
    };
    let out = h.exec(command("$$")).ok();
    assert_eq!(
        out.stdout,
        "preserved content\nlistened\nLISTEN_FDS=1 LISTEN_PID=1\n6\n"
    );
    h.assert_gone(&id, &b, None);
    // Variables meant for another process: descriptor 4 stays behind.
    let out = h.exec(command("1")).ok();
    assert_eq!(
        out.stdout, "preserved content\nLISTEN_FDS= LISTEN_PID=\n5\n",
        "{out:?}"
    );
    h.assert_gone(&id, &b, None);
}

#[test]
fn preserve_fds_may_name_closed_descriptors() {
    // runc's behaviour: descriptors in the range that are not open are
    // simply absent in the container, and hako's own never fill the gap.
    let h = Hako::new();
    // Like a caller with only stdio open (cargo's jobserver descriptors,
    // for one, would otherwise be preserved, rightly).
    let only_stdio = |args: &[&str]| {
        let mut cmd = h.cmd();
        cmd.args(args).stdin(std::process::Stdio::null());
        // SAFETY: close_range in the child before exec touches only its
        // own descriptor table.
        unsafe {
            cmd.pre_exec(|| {
                libc::syscall(libc::SYS_close_range, 3, u32::MAX, 0);
                Ok(())
            });
        }
        h.exec(cmd)
    };
    let b = Bundle::sh("ls /proc/self/fd | wc -l");
    let id = unique_id("pfdgap");
    let out = only_stdio(&["run", "--preserve-fds", "40", "--bundle", &b.arg(), &id]).ok();
    // 0, 1, 2 and the one ls opened to list /proc/self/fd.
    assert_eq!(out.stdout.trim(), "4", "{out:?}");
    h.assert_gone(&id, &b, None);
    // exec reserves the same way.
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("pfdexec");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let out = only_stdio(&[
        "exec",
        "--preserve-fds",
        "40",
        &id,
        "sh",
        "-c",
        "ls /proc/self/fd | wc -l",
    ])
    .ok();
    assert_eq!(out.stdout.trim(), "4", "{out:?}");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn terminal_goes_to_the_console_socket() {
    let h = Hako::new();
    let mut b = Bundle::sh("tty; stty size; echo from-tty");
    b.edit(|s| {
        s["process"]["terminal"] = true.into();
        s["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 101});
    });
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let id = unique_id("tty");
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (_, fd) = hako_tests::recv_fd(&conn);
        // SAFETY: the descriptor was just received and is ours.
        let mut master = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let mut text = Vec::new();
        let mut chunk = [0u8; 256];
        // Read until the slave side closes (EIO).
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    h.run(&[
        "create",
        "--console-socket",
        &sock_path.display().to_string(),
        "--bundle",
        &b.arg(),
        &id,
    ])
    .ok();
    h.run(&["start", &id]).ok();
    let text = receiver.join().unwrap();
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("33 101"), "{text:?}");
    assert!(text.contains("from-tty"), "{text:?}");
    h.wait_status(&id, "stopped");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["process"]["terminal"] = true.into());
    let id = unique_id("notty");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("--console-socket");
    h.assert_gone(&id, &b, None);
}

#[test]
fn foreground_run_with_a_terminal_and_no_console_socket() {
    // As runc: hako holds the pty and copies it to its own stdio.
    let h = Hako::new();
    let mut b = Bundle::sh("tty; echo from-the-pty; exit 5");
    b.edit(|s| s["process"]["terminal"] = true.into());
    let id = unique_id("owntty");
    let out = h.run_bundle(&id, &b);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stdout.contains("/dev/pts/0"), "{out:?}");
    assert!(out.stdout.contains("from-the-pty"), "{out:?}");
    h.assert_gone(&id, &b, None);
    // exec -t in the foreground, likewise.
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("exectty");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let out = h.run(&["exec", "-t", &id, "sh", "-c", "tty; echo exec-pty"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("/dev/pts/") && out.stdout.contains("exec-pty"),
        "{out:?}"
    );
    h.run(&["exec", "-t", "-d", &id, "true"])
        .fails_with("--console-socket");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}
