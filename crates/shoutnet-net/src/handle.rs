//! The application's side of a running node: a [`Handle`] for commands and
//! an [`EventStream`] of what arrives (ARCHITECTURE.md, "The runtime and
//! the facade").

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use shoutnet_engine::{Address, Command, CustomRefusal, Event, Stats};
use shoutnet_wire::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::NetError;
use crate::stats::NetStats;

/// A `CUSTOM` request for a handler registered with
/// [`Handle::register_custom`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CustomRequest {
    /// The peer that sent it.
    pub peer: Address,
    /// The handler's name.
    pub name: String,
    /// The request's data.
    pub data: Value,
}

/// The future a custom handler returns.
pub type CustomAnswer = Pin<Box<dyn Future<Output = Result<Value, CustomRefusal>> + Send>>;

/// A `CUSTOM` handler: called on the engine task for each request, it
/// returns a future the runtime runs on its own task, whose output is the
/// answer (`ACK CUSTOM` or a `NACK`).
pub type CustomHandler = Arc<dyn Fn(CustomRequest) -> CustomAnswer + Send + Sync>;

/// What the application asks the engine task.
pub(crate) enum Request {
    Command {
        command: Command,
        reply: Option<oneshot::Sender<Result<Option<Event>, NetError>>>,
    },
    RegisterCustom {
        name: String,
        handler: CustomHandler,
        reply: oneshot::Sender<Result<Option<Event>, NetError>>,
    },
    Info(oneshot::Sender<NodeInfo>),
    Shutdown(oneshot::Sender<()>),
}

/// What a node is fixed at when it starts.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) address: Address,
    pub(crate) key: Bytes,
    pub(crate) listen: Vec<SocketAddr>,
}

/// A snapshot of a running node.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeInfo {
    /// Open connections, handshaking ones included.
    pub connections: usize,
    /// Entries in the routing table.
    pub routing_table: usize,
    /// Records the node stores for others and itself.
    pub stored_records: usize,
    /// The peers of the node's kept connections.
    pub peers: Vec<Address>,
    /// The engine's counters.
    pub engine: Stats,
    /// The runtime's counters.
    pub net: NetStats,
}

/// A running node. Cheap to clone, `Send + Sync`; the node runs until
/// [`shutdown`](Self::shutdown) or until every handle is dropped.
#[derive(Clone)]
pub struct Handle {
    requests: mpsc::Sender<Request>,
    started: Arc<Started>,
    joined: watch::Receiver<Option<usize>>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("address", &self.started.address)
            .field("listen", &self.started.listen)
            .finish_non_exhaustive()
    }
}

impl Handle {
    pub(crate) fn new(
        requests: mpsc::Sender<Request>,
        started: Started,
        joined: watch::Receiver<Option<usize>>,
    ) -> Self {
        Self {
            requests,
            started: Arc::new(started),
            joined,
        }
    }

    /// Waits for the node's bootstrap through its seeds (it starts on its
    /// own) to end, and returns the routing table's size then: 0 means no
    /// seed was reached (the node tries again after the bootstrap retry
    /// delay). A node without seeds never finishes one: this waits until
    /// it stops, then fails with [`NetError::Shutdown`].
    pub async fn joined(&self) -> Result<usize, NetError> {
        let mut joined = self.joined.clone();
        let table_len = joined
            .wait_for(Option::is_some)
            .await
            .map_err(|_| NetError::Shutdown)?;
        Ok(table_len.unwrap_or(0))
    }

    /// The node's routing address.
    pub fn address(&self) -> Address {
        self.started.address
    }

    /// The node's key field, the one others whisper to.
    pub fn key(&self) -> &Bytes {
        &self.started.key
    }

    /// The addresses the node listens on (ports chosen), empty for a
    /// dial-out-only node.
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        &self.started.listen
    }

    fn request(&self, request: Request) -> Result<(), NetError> {
        self.requests.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NetError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => NetError::Shutdown,
        })
    }

    /// Runs `command` and waits for the event that ends it (`None` for
    /// commands that end at once, such as a `CUSTOM` without reply).
    /// Fails at once with [`NetError::Overloaded`] if the node's command
    /// queue is full, and with [`NetError::Command`] if the engine refuses
    /// it.
    pub async fn command(&self, command: Command) -> Result<Option<Event>, NetError> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::Command {
            command,
            reply: Some(reply),
        })?;
        answer.await.map_err(|_| NetError::Shutdown)?
    }

    /// Hands `command` to the node without waiting for its outcome.
    pub fn send(&self, command: Command) -> Result<(), NetError> {
        self.request(Request::Command {
            command,
            reply: None,
        })
    }

    /// Serves `CUSTOM` requests named `name` with `handler`, replacing
    /// an earlier one; resolves once the node serves it (a request that
    /// arrives later finds it), or fails with
    /// [`CommandError::BadName`](shoutnet_engine::CommandError::BadName)
    /// for a name that is empty or over 64 bytes.
    pub async fn register_custom(
        &self,
        name: &str,
        handler: CustomHandler,
    ) -> Result<(), NetError> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::RegisterCustom {
            name: name.to_owned(),
            handler,
            reply,
        })?;
        answer.await.map_err(|_| NetError::Shutdown)?.map(|_| ())
    }

    /// A snapshot of the node's connections and counters.
    pub async fn info(&self) -> Result<NodeInfo, NetError> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::Info(reply))?;
        answer.await.map_err(|_| NetError::Shutdown)
    }

    /// Stops the node: stops listening, flushes queued messages, closes
    /// every connection and waits for their tasks (within the grace
    /// period). Later calls on any handle fail with
    /// [`NetError::Shutdown`].
    pub async fn shutdown(&self) -> Result<(), NetError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Shutdown(reply))
            .await
            .map_err(|_| NetError::Shutdown)?;
        answer.await.map_err(|_| NetError::Shutdown)
    }
}

/// What arrives at a node: `SHOUT`, `SPEAK`, `WHISPER`, `CUSTOM` requests
/// without a registered handler, and peers connecting and leaving. A
/// [`Stream`](futures_core::Stream); it ends when the node stops.
#[derive(Debug)]
pub struct EventStream {
    events: mpsc::Receiver<Event>,
}

impl EventStream {
    pub(crate) fn new(events: mpsc::Receiver<Event>) -> Self {
        Self { events }
    }

    /// The next event, or `None` once the node stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.recv().await
    }
}

impl futures_core::Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.poll_recv(cx)
    }
}
