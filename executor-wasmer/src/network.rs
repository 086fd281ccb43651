//! Host networking for WASIX sockets, started by the first socket.
//!
//! virtual-net's `LocalNetworking` starts its selector thread (mio's
//! poll loop, which wakes guests whose sockets are ready) when it is made.
//! [`Lazy`] makes it, and the guest's other threads (see
//! [`crate::tasks`]), only when the guest first uses the network, so a
//! guest that never does runs on its own thread alone. When the threads
//! cannot start (a `pids.max` too small), that socket call fails with
//! ENOMEM (out of resources; not EAGAIN, which a guest would retry).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use virtual_net::host::LocalNetworking;
use virtual_net::{
    NetworkError, Result, VirtualNetworking, VirtualTcpBoundSocket, VirtualTcpListener,
    VirtualTcpSocket, VirtualUdpSocket,
};

use crate::tasks::GuestTasks;

/// `LocalNetworking`, made on first use.
#[derive(Debug)]
pub(crate) struct Lazy {
    net: OnceLock<Option<LocalNetworking>>,
    tasks: Arc<GuestTasks>,
}

impl Lazy {
    /// Nothing started yet; `tasks` are the guest's, whose threads the
    /// network's wake-ups need.
    pub(crate) fn new(tasks: Arc<GuestTasks>) -> Self {
        Lazy {
            net: OnceLock::new(),
            tasks,
        }
    }

    fn get(&self) -> Result<&LocalNetworking> {
        self.net
            .get_or_init(|| {
                // From now on a sleep must be one that a ready socket can
                // cut short: tokio's.
                self.tasks.threads().ok()?;
                // It panics when its thread cannot start.
                std::panic::catch_unwind(LocalNetworking::new).ok()
            })
            .as_ref()
            .ok_or(NetworkError::InsufficientMemory)
    }

    /// Whether the network was started.
    #[cfg(test)]
    fn started(&self) -> bool {
        self.net.get().is_some()
    }
}

#[async_trait::async_trait]
impl VirtualNetworking for Lazy {
    async fn listen_tcp(
        &self,
        addr: SocketAddr,
        only_v6: bool,
        reuse_port: bool,
        reuse_addr: bool,
    ) -> Result<Box<dyn VirtualTcpListener + Sync>> {
        self.get()?
            .listen_tcp(addr, only_v6, reuse_port, reuse_addr)
            .await
    }

    async fn bind_tcp(
        &self,
        addr: SocketAddr,
        only_v6: bool,
        reuse_port: bool,
        reuse_addr: bool,
    ) -> Result<Box<dyn VirtualTcpBoundSocket + Sync>> {
        self.get()?
            .bind_tcp(addr, only_v6, reuse_port, reuse_addr)
            .await
    }

    async fn bind_udp(
        &self,
        addr: SocketAddr,
        reuse_port: bool,
        reuse_addr: bool,
    ) -> Result<Box<dyn VirtualUdpSocket + Sync>> {
        self.get()?.bind_udp(addr, reuse_port, reuse_addr).await
    }

    async fn connect_tcp(
        &self,
        addr: SocketAddr,
        peer: SocketAddr,
    ) -> Result<Box<dyn VirtualTcpSocket + Sync>> {
        self.get()?.connect_tcp(addr, peer).await
    }

    async fn resolve(
        &self,
        host: &str,
        port: Option<u16>,
        dns_server: Option<IpAddr>,
    ) -> Result<Vec<IpAddr>> {
        self.get()?.resolve(host, port, dns_server).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nudge::Nudge;

    #[test]
    fn the_network_starts_with_the_first_socket() {
        let tasks = Arc::new(GuestTasks::new(Arc::new(Nudge::new().unwrap())));
        let net = Lazy::new(Arc::clone(&tasks));
        assert!(!net.started());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let listener = rt
            .block_on(net.listen_tcp("127.0.0.1:0".parse().unwrap(), false, false, false))
            .unwrap();
        assert!(listener.addr_local().unwrap().port() > 0);
        assert!(net.started());
        assert!(tasks.threads().is_ok());
    }
}
