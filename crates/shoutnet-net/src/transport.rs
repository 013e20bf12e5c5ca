//! Transports: TCP (IPv4 and IPv6), and an in-memory network for tests
//! that runs the same connection code over `tokio::io::duplex` pipes
//! (ARCHITECTURE.md, "The runtime and the facade").

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::error::NetError;

/// A byte stream a connection runs over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`].
pub(crate) type BoxIo = Box<dyn Io>;

/// How a node reaches others.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Transport {
    /// TCP, with Nagle's algorithm off (the engine batches).
    #[default]
    Tcp,
    /// An in-memory network shared by the nodes given the same one.
    Memory(MemoryNetwork),
}

/// Bytes a memory pipe buffers in each direction, like a socket buffer.
const PIPE_BUFFER: usize = 256 * 1024;

/// Connections waiting for a memory listener's accept.
const MEMORY_BACKLOG: usize = 128;

type Incoming = (DuplexStream, SocketAddr);

/// An in-memory network: listeners by address, pipes for connections.
/// Clones share the network.
///
/// ```
/// use shoutnet_net::{MemoryNetwork, Transport};
/// let network = MemoryNetwork::default();
/// let a = Transport::Memory(network.clone());
/// let b = Transport::Memory(network);
/// # let _ = (a, b);
/// ```
#[derive(Clone, Default)]
pub struct MemoryNetwork {
    inner: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    listeners: BTreeMap<SocketAddr, mpsc::Sender<Incoming>>,
    next_port: u16,
}

impl fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listeners = self.inner.lock().map(|s| s.listeners.len()).unwrap_or(0);
        f.debug_struct("MemoryNetwork")
            .field("listeners", &listeners)
            .finish()
    }
}

impl MemoryNetwork {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A poisoned lock only means a panic elsewhere; the map is intact.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh address on the memory network's loopback.
    fn fresh(state: &mut MemoryState) -> SocketAddr {
        state.next_port = state.next_port.wrapping_add(1).max(1);
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), state.next_port)
    }
}

/// A bound listener.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Memory {
        addr: SocketAddr,
        incoming: mpsc::Receiver<Incoming>,
        network: MemoryNetwork,
    },
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Self::Memory { addr, network, .. } = self {
            network.state().listeners.remove(addr);
        }
    }
}

impl Listener {
    /// The address it listens on (the port chosen, for port 0).
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Tcp(l) => l.local_addr(),
            Self::Memory { addr, .. } => Ok(*addr),
        }
    }

    /// The next connection and the peer's address.
    pub(crate) async fn accept(&mut self) -> io::Result<(BoxIo, SocketAddr)> {
        match self {
            Self::Tcp(l) => {
                let (stream, remote) = l.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), remote))
            }
            Self::Memory { incoming, .. } => match incoming.recv().await {
                Some((pipe, remote)) => Ok((Box::new(pipe), remote)),
                None => Err(io::ErrorKind::ConnectionAborted.into()),
            },
        }
    }
}

impl Transport {
    /// Binds `addr` (port 0 picks one).
    pub(crate) async fn listen(&self, addr: SocketAddr) -> Result<Listener, NetError> {
        match self {
            Self::Tcp => TcpListener::bind(addr)
                .await
                .map(Listener::Tcp)
                .map_err(|source| NetError::Listen { addr, source }),
            Self::Memory(network) => {
                let mut state = network.state();
                let addr = if addr.port() == 0 {
                    MemoryNetwork::fresh(&mut state)
                } else {
                    addr
                };
                if state.listeners.contains_key(&addr) {
                    return Err(NetError::AddressInUse(addr));
                }
                let (tx, incoming) = mpsc::channel(MEMORY_BACKLOG);
                state.listeners.insert(addr, tx);
                drop(state);
                Ok(Listener::Memory {
                    addr,
                    incoming,
                    network: network.clone(),
                })
            }
        }
    }

    /// Connects to `addr` within `timeout`.
    pub(crate) async fn dial(&self, addr: SocketAddr, timeout: Duration) -> io::Result<BoxIo> {
        match self {
            Self::Tcp => {
                let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
                    .await
                    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
            Self::Memory(network) => {
                let (listener, local) = {
                    let mut state = network.state();
                    let listener = state.listeners.get(&addr).cloned();
                    (listener, MemoryNetwork::fresh(&mut state))
                };
                let listener = listener.ok_or(io::ErrorKind::ConnectionRefused)?;
                let (ours, theirs) = tokio::io::duplex(PIPE_BUFFER);
                listener
                    .try_send((theirs, local))
                    .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
                Ok(Box::new(ours))
            }
        }
    }
}
