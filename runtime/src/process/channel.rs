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
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// Largest message accepted; messages are small JSON documents.
const MAX_MESSAGE: usize = 64 * 1024;

/// What the processes of a container tell each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// hako → intermediate: the systemd unit holding the container's
    /// cgroup is started, with the intermediate in it (`--systemd-cgroup`).
    CgroupReady,
    /// intermediate → hako: a user namespace was created; write its id maps.
    MapIds,
    /// hako → intermediate: the id maps are written.
    IdsMapped,
    /// intermediate → hako: container init's pid in hako's pid namespace.
    InitPid(i32),
    /// hako → init: the intermediate is gone and `linux.resources` are
    /// written; init may start building the container.
    ResourcesApplied,
    /// init → hako: mounts are done; run the prestart and createRuntime
    /// hooks (in hako's namespaces) and answer [`Message::HooksDone`].
    RunHooks,
    /// hako → init: the runtime-namespace hooks succeeded.
    HooksDone,
    /// init → hako: move `linux.netDevices` into init's network namespace
    /// (hako is on the host, with its capabilities) and answer
    /// [`Message::NetDevicesMoved`].
    MoveNetDevices,
    /// hako → init: the devices are in place.
    NetDevicesMoved,
    /// init → hako: the seccomp notify descriptor travels with this
    /// message; hako passes it to `linux.seccomp.listenerPath`.
    SeccompFd,
    /// init → hako: the compiled module cached under this key, please.
    CacheGet(String),
    /// hako → init: here it is (a read-only descriptor travels along).
    CacheHit,
    /// hako → init: not cached.
    CacheMiss,
    /// init → hako: store this compiled module (a memfd travels along).
    CachePut(String),
    /// init → hako: the container is set up; the workload is prepared and
    /// init waits for `start`. Names the wasm engine that will run it, if
    /// any.
    Ready(Option<String>),
    /// any child → hako: setting the container up failed.
    Error(String),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel(OwnedFd);

impl Channel {
    /// A connected pair, close-on-exec.
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "creating the sync socketpair".into())?;
        Ok((Channel(a), Channel(b)))
    }

    /// Sends a message.
    pub fn send(&self, msg: &Message) -> Result<()> {
        send_with_fd(self.0.as_fd(), &encode(msg)?, None).ctx(|| format!("sending {msg:?}"))
    }

    /// Sends a message with a descriptor.
    pub fn send_fd(&self, msg: &Message, fd: RawFd) -> Result<()> {
        send_with_fd(self.0.as_fd(), &encode(msg)?, Some(fd)).ctx(|| format!("sending {msg:?}"))
    }

    /// Receives the next message; `None` once the peer is gone.
    pub fn recv(&self) -> Result<Option<Message>> {
        Ok(self.recv_fd()?.map(|(m, _)| m))
    }

    /// Receives the next message and the descriptor sent with it, if any.
    pub fn recv_fd(&self) -> Result<Option<(Message, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (n, fd) =
            recv_with_fd(self.0.as_fd(), &mut buf).ctx(|| "receiving a sync message".into())?;
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n])
            .map_err(|e| Error::invalid(format!("malformed sync message: {e}")))?;
        Ok(Some((msg, fd)))
    }

    /// A second handle on the same end.
    pub fn try_clone(&self) -> Result<Channel> {
        Ok(Channel(
            self.0
                .try_clone()
                .ctx(|| "duplicating the sync channel".into())?,
        ))
    }

    /// The raw descriptor (to keep it open across fd cleanup).
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

fn encode(msg: &Message) -> Result<Vec<u8>> {
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
    fn messages_round_trip_and_eof() {
        let (a, b) = Channel::pair().unwrap();
        for m in [
            Message::MapIds,
            Message::InitPid(42),
            Message::Error("mount /x: boom".into()),
            Message::Ready(Some("wasmtime".into())),
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn descriptors_travel() {
        let (a, b) = Channel::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_with_fd(a.0.as_fd(), b"fd", Some(w.as_raw_fd())).unwrap();
        drop(w);
        let mut buf = [0u8; 16];
        let (n, fd) = recv_with_fd(b.0.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"fd");
        nix::unistd::write(fd.unwrap(), b"x").unwrap();
        let mut got = [0u8; 1];
        nix::unistd::read(r, &mut got).unwrap();
        assert_eq!(&got, b"x");
    }
}
