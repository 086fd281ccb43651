//! Typed messages between hako and the processes it forks.
//!
//! One SOCK_SEQPACKET socketpair: message boundaries are kept, descriptors
//! travel with SCM_RIGHTS, and the parent sees end-of-file once every child
//! holding the other end has exited, so a child that dies without a word is
//! noticed instead of waited for forever.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// Largest message accepted; messages are small JSON documents.
const MAX_MESSAGE: usize = 64 * 1024;

/// What a child of hako (the intermediate, container init, an exec
/// process) tells hako.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToHako {
    /// intermediate → hako: a user namespace was created; write its id maps.
    MapIds,
    /// intermediate (or exec's first child) → hako: the new process's pid
    /// in hako's pid namespace.
    InitPid(i32),
    /// init → hako: mounts are done; run the prestart and createRuntime
    /// hooks (in hako's namespaces) and answer [`ToChild::HooksDone`].
    RunHooks,
    /// init → hako: move `linux.netDevices` into init's network namespace
    /// (hako is on the host, with its capabilities) and answer
    /// [`ToChild::NetDevicesMoved`].
    MoveNetDevices,
    /// init → hako: the seccomp notify descriptor travels with this
    /// message; hako passes it to `linux.seccomp.listenerPath`.
    SeccompFd,
    /// init → hako: the compiled module cached under this key, please.
    CacheGet(String),
    /// init → hako: store this compiled module (a memfd travels along).
    CachePut(String),
    /// init → hako: the container is set up; the workload is prepared and
    /// init waits for `start`. Names the wasm engine that will run it, if
    /// any.
    Ready(Option<String>),
    /// any child → hako: setting the container up failed.
    Error(String),
}

/// What hako answers its children.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToChild {
    /// hako → intermediate: the systemd unit holding the container's
    /// cgroup is started, with the intermediate in it (`--systemd-cgroup`).
    CgroupReady,
    /// hako → intermediate: the id maps are written.
    IdsMapped,
    /// hako → init (or exec): the intermediate is gone and the process's
    /// cgroup and resources are in place; it may go on.
    ResourcesApplied,
    /// hako → init: the runtime-namespace hooks succeeded.
    HooksDone,
    /// hako → init: the devices are in place.
    NetDevicesMoved,
    /// hako → init: here is the compiled module (a read-only descriptor
    /// travels along).
    CacheHit,
    /// hako → init: not cached.
    CacheMiss,
}

/// One end of the channel, typed by role: it sends `S` and receives `R`,
/// so neither side can send what only the other may.
pub struct Endpoint<S, R> {
    fd: OwnedFd,
    roles: PhantomData<fn(S) -> R>,
}

/// hako's end: answers [`ToChild`], hears [`ToHako`].
pub type HakoEnd = Endpoint<ToChild, ToHako>;
/// A child's end: reports [`ToHako`], hears [`ToChild`].
pub type ChildEnd = Endpoint<ToHako, ToChild>;

/// A connected pair, close-on-exec: hako's end and the child's.
pub fn pair() -> Result<(HakoEnd, ChildEnd)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "creating the sync socketpair".into())?;
    Ok((Endpoint::new(a), Endpoint::new(b)))
}

impl<S, R> std::fmt::Debug for Endpoint<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Endpoint").field(&self.fd).finish()
    }
}

impl<S: Serialize + std::fmt::Debug, R: DeserializeOwned> Endpoint<S, R> {
    fn new(fd: OwnedFd) -> Self {
        Endpoint {
            fd,
            roles: PhantomData,
        }
    }

    /// Sends a message.
    pub fn send(&self, msg: &S) -> Result<()> {
        send_with_fd(self.fd.as_fd(), &encode(msg)?, None).ctx(|| format!("sending {msg:?}"))
    }

    /// Sends a message with a descriptor.
    pub fn send_fd(&self, msg: &S, fd: RawFd) -> Result<()> {
        send_with_fd(self.fd.as_fd(), &encode(msg)?, Some(fd)).ctx(|| format!("sending {msg:?}"))
    }

    /// Receives the next message; `None` once the peer is gone.
    pub fn recv(&self) -> Result<Option<R>> {
        Ok(self.recv_fd()?.map(|(m, _)| m))
    }

    /// Receives the next message and the descriptor sent with it, if any.
    pub fn recv_fd(&self) -> Result<Option<(R, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (n, fd) =
            recv_with_fd(self.fd.as_fd(), &mut buf).ctx(|| "receiving a sync message".into())?;
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n])
            .map_err(|e| Error::invalid(format!("malformed sync message: {e}")))?;
        Ok(Some((msg, fd)))
    }

    /// A second handle on the same end.
    pub fn try_clone(&self) -> Result<Self> {
        let fd = self
            .fd
            .try_clone()
            .ctx(|| "duplicating the sync channel".into())?;
        Ok(Endpoint::new(fd))
    }

    /// The raw descriptor (to keep it open across fd cleanup).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn encode(msg: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(msg).map_err(|e| Error::invalid(format!("encoding sync message: {e}")))
}

/// Sends bytes and optionally one descriptor over a unix socket.
pub fn send_with_fd(sock: BorrowedFd<'_>, payload: &[u8], fd: Option<RawFd>) -> nix::Result<()> {
    let iov = [IoSlice::new(payload)];
    let fds;
    let cmsgs: &[ControlMessage] = match fd {
        Some(fd) => {
            fds = [fd];
            &[ControlMessage::ScmRights(&fds)]
        }
        None => &[],
    };
    socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// Receives bytes and at most one descriptor from a unix socket.
pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other?,
        }
    };
    let mut fd = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: the kernel just installed this descriptor for us;
                // nothing else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                fd.get_or_insert(owned);
            }
        }
    }
    Ok((msg.bytes, fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_both_ways_and_eof() {
        let (hako, child) = pair().unwrap();
        for m in [
            ToHako::MapIds,
            ToHako::InitPid(42),
            ToHako::Error("mount /x: boom".into()),
            ToHako::Ready(Some("wasmtime".into())),
        ] {
            child.send(&m).unwrap();
            assert_eq!(hako.recv().unwrap(), Some(m));
        }
        hako.send(&ToChild::ResourcesApplied).unwrap();
        assert_eq!(child.recv().unwrap(), Some(ToChild::ResourcesApplied));
        drop(child);
        assert_eq!(hako.recv().unwrap(), None);
    }

    #[test]
    fn descriptors_travel() {
        let (a, b) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_with_fd(a.fd.as_fd(), b"fd", Some(w.as_raw_fd())).unwrap();
        drop(w);
        let mut buf = [0u8; 16];
        let (n, fd) = recv_with_fd(b.fd.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"fd");
        nix::unistd::write(fd.unwrap(), b"x").unwrap();
        let mut got = [0u8; 1];
        nix::unistd::read(r, &mut got).unwrap();
        assert_eq!(&got, b"x");
    }
}
