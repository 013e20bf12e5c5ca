//! How the runtime drives its engine: queue bounds, timeouts, bootstrap
//! (ARCHITECTURE.md, "The runtime and the facade").

use std::net::SocketAddr;
use std::time::Duration;

use shoutnet_engine::EngineConfig;

use crate::transport::Transport;

/// The configuration of one node's runtime: the engine's own
/// configuration, the transport, and the bounds of every queue between
/// the engine task, the connection tasks and the application.
#[derive(Debug)]
#[non_exhaustive]
pub struct NetConfig {
    pub(crate) engine: EngineConfig,
    pub(crate) transport: Transport,
    pub(crate) bootstrap: Vec<SocketAddr>,
    pub(crate) bootstrap_retry: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) writer_queue: usize,
    pub(crate) input_queue: usize,
    pub(crate) command_queue: usize,
    pub(crate) event_queue: usize,
    pub(crate) coalesce_bytes: usize,
    pub(crate) shutdown_grace: Duration,
}

impl NetConfig {
    /// Transmissions waiting for one connection's writer. When it is full
    /// the engine stops encoding for that connection, and its messages
    /// wait in the engine's outbox, bounded in bytes, the node's own
    /// first.
    pub const DEFAULT_WRITER_QUEUE: usize = 8;
    /// Inputs (bytes read, connections secured or closed) waiting for the
    /// engine task, from all connections. A full queue stops the readers,
    /// and TCP's flow control then slows the peers.
    pub const DEFAULT_INPUT_QUEUE: usize = 1024;
    /// Commands waiting for the engine task; past it, calls fail with
    /// [`NetError::Overloaded`](crate::NetError::Overloaded).
    pub const DEFAULT_COMMAND_QUEUE: usize = 4096;
    /// Events waiting for the application; past it they are dropped and
    /// counted in [`NetStats::events_dropped`](crate::NetStats::events_dropped).
    pub const DEFAULT_EVENT_QUEUE: usize = 4096;
    /// Plaintext a connection gathers from its queue into one Noise
    /// message write.
    pub const DEFAULT_COALESCE_BYTES: usize = 64 * 1024;
    /// How long a dial may take to connect.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// How often the runtime checks whether to join again through the
    /// seeds: after a bootstrap that reached no one, or while the routing
    /// table is smaller than it once was (a healed partition), backing off
    /// up to 5 minutes while that finds nothing new.
    pub const DEFAULT_BOOTSTRAP_RETRY: Duration = Duration::from_secs(10);
    /// How long shutdown waits for connections to flush.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

    /// The defaults around `engine`, over TCP.
    pub fn new(engine: EngineConfig) -> Self {
        Self {
            engine,
            transport: Transport::Tcp,
            bootstrap: Vec::new(),
            bootstrap_retry: Self::DEFAULT_BOOTSTRAP_RETRY,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            writer_queue: Self::DEFAULT_WRITER_QUEUE,
            input_queue: Self::DEFAULT_INPUT_QUEUE,
            command_queue: Self::DEFAULT_COMMAND_QUEUE,
            event_queue: Self::DEFAULT_EVENT_QUEUE,
            coalesce_bytes: Self::DEFAULT_COALESCE_BYTES,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
        }
    }

    /// The engine's configuration, to change it.
    pub fn engine_mut(&mut self) -> &mut EngineConfig {
        &mut self.engine
    }

    /// The engine's configuration.
    pub fn engine(&self) -> &EngineConfig {
        &self.engine
    }

    /// The transport: TCP (the default) or an in-memory network.
    pub fn set_transport(&mut self, transport: Transport) -> &mut Self {
        self.transport = transport;
        self
    }

    /// Seeds to join through when the node starts, and again when it has
    /// no connection or its routing table lost entries (see
    /// [`DEFAULT_BOOTSTRAP_RETRY`](Self::DEFAULT_BOOTSTRAP_RETRY)).
    pub fn set_bootstrap(&mut self, seeds: Vec<SocketAddr>) -> &mut Self {
        self.bootstrap = seeds;
        self
    }

    /// See [`DEFAULT_BOOTSTRAP_RETRY`](Self::DEFAULT_BOOTSTRAP_RETRY).
    pub fn set_bootstrap_retry(&mut self, retry: Duration) -> &mut Self {
        self.bootstrap_retry = retry;
        self
    }

    /// See [`DEFAULT_CONNECT_TIMEOUT`](Self::DEFAULT_CONNECT_TIMEOUT).
    pub fn set_connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connect_timeout = timeout;
        self
    }

    /// See [`DEFAULT_WRITER_QUEUE`](Self::DEFAULT_WRITER_QUEUE); at least 1.
    pub fn set_writer_queue(&mut self, transmissions: usize) -> &mut Self {
        self.writer_queue = transmissions.max(1);
        self
    }

    /// See [`DEFAULT_INPUT_QUEUE`](Self::DEFAULT_INPUT_QUEUE); at least 1.
    pub fn set_input_queue(&mut self, inputs: usize) -> &mut Self {
        self.input_queue = inputs.max(1);
        self
    }

    /// See [`DEFAULT_COMMAND_QUEUE`](Self::DEFAULT_COMMAND_QUEUE); at least 1.
    pub fn set_command_queue(&mut self, commands: usize) -> &mut Self {
        self.command_queue = commands.max(1);
        self
    }

    /// See [`DEFAULT_EVENT_QUEUE`](Self::DEFAULT_EVENT_QUEUE); at least 1.
    pub fn set_event_queue(&mut self, events: usize) -> &mut Self {
        self.event_queue = events.max(1);
        self
    }

    /// See [`DEFAULT_COALESCE_BYTES`](Self::DEFAULT_COALESCE_BYTES).
    pub fn set_coalesce_bytes(&mut self, bytes: usize) -> &mut Self {
        self.coalesce_bytes = bytes.max(1);
        self
    }

    /// See [`DEFAULT_SHUTDOWN_GRACE`](Self::DEFAULT_SHUTDOWN_GRACE).
    pub fn set_shutdown_grace(&mut self, grace: Duration) -> &mut Self {
        self.shutdown_grace = grace;
        self
    }
}
