//! The engine task (ARCHITECTURE.md, "The runtime and the facade"): the
//! one owner of a node's [`NodeEngine`]. It feeds
//! the engine what connection, listener and dial tasks report, the
//! application's commands and the clock, and carries out what the engine
//! returns: transmissions to connection tasks, dials, closes, events.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rand_core::{OsRng, RngCore};
use shoutnet_engine::channel::{ChannelIdentity, SecureChannel};
use shoutnet_engine::{
    Action, Command, CommandId, ConnectionId, Direction, Event, NodeEngine, Transmit,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::config::NetConfig;
use crate::connection::{ConnHandle, Connection, Ended, Input};
use crate::error::NetError;
use crate::handle::{CustomHandler, CustomRequest, Handle, NodeInfo, Request, Started};
use crate::rejoin::Rejoin;
use crate::stats::NetStats;
use crate::transport::{BoxIo, Listener, Transport};

/// Inputs, or requests from handles, handled in one go before the
/// engine's outputs are carried out: enough that messages queued together
/// leave together (the engine encodes a connection's outbox only when it
/// is carried out), few enough to keep latency low.
const INPUT_BATCH: usize = 256;

/// Handler calls for `CUSTOM` requests that want no answer running at
/// once; past it such requests are dropped and counted. (Requests that
/// want an answer are bounded by the engine, which lets at most 256 wait.)
/// Without it, peers sending fire-and-forget requests to a slow handler
/// within their rate budgets would make the node hold a task each.
pub const MAX_UNANSWERED_HANDLERS: usize = 256;

/// The clock, read by the runtime only (the engine reads none).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Unix seconds now, for the records' metadata.
#[allow(clippy::disallowed_methods)]
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Starts a node: binds its listen addresses, then spawns its engine
/// task on the current tokio runtime.
pub(crate) async fn start(
    mut config: NetConfig,
) -> Result<(Handle, mpsc::Receiver<Event>), NetError> {
    let mut listeners = Vec::new();
    for addr in config.engine.listen().to_vec() {
        listeners.push(config.transport.listen(addr).await?);
    }
    let bound = listeners
        .iter()
        .map(Listener::local_addr)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| NetError::Listen {
            addr: config
                .engine
                .listen()
                .first()
                .copied()
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
            source,
        })?;
    config.engine.set_listen(bound.clone());
    config.engine.set_unix_time(unix_now());
    let engine = NodeEngine::new(config.engine.clone(), now());
    let (requests, requests_rx) = mpsc::channel(config.command_queue);
    let (events, events_rx) = mpsc::channel(config.event_queue);
    let (inputs, inputs_rx) = mpsc::channel(config.input_queue);
    let started = Started {
        address: engine.local_address(),
        key: config.engine.keypair().public().to_bytes(),
        listen: bound,
    };
    let (joined, joined_rx) = watch::channel(None);
    let handle = Handle::new(requests.clone(), started, joined_rx);
    let mut task = EngineTask {
        identity: engine.channel_identity().clone(),
        engine,
        conns: BTreeMap::new(),
        next_conn: 0,
        pending: BTreeMap::new(),
        handlers: BTreeMap::new(),
        unanswered: Arc::new(tokio::sync::Semaphore::new(MAX_UNANSWERED_HANDLERS)),
        events,
        inputs,
        requests: requests.downgrade(),
        tasks: JoinSet::new(),
        listeners: JoinSet::new(),
        stats: NetStats::default(),
        transport: config.transport.clone(),
        seeds: config.bootstrap.clone(),
        bootstrap: None,
        rejoin: Rejoin::new(config.bootstrap_retry),
        joined,
        config,
    };
    for listener in listeners {
        task.listen(listener);
    }
    if !task.seeds.is_empty() {
        task.start_bootstrap();
    }
    tokio::spawn(task.run(inputs_rx, requests_rx));
    Ok((handle, events_rx))
}

/// A command waiting for the event that ends it.
struct Waiting {
    reply: oneshot::Sender<Result<Option<Event>, NetError>>,
}

struct EngineTask {
    engine: NodeEngine,
    identity: ChannelIdentity,
    config: NetConfig,
    transport: Transport,
    conns: BTreeMap<ConnectionId, ConnHandle>,
    next_conn: u64,
    pending: BTreeMap<CommandId, Waiting>,
    handlers: BTreeMap<String, CustomHandler>,
    /// Permits for handler calls of requests that want no answer.
    unanswered: Arc<tokio::sync::Semaphore>,
    events: mpsc::Sender<Event>,
    inputs: mpsc::Sender<Input>,
    /// For handler tasks to answer through; weak, so the node stops when
    /// the application drops its last handle.
    requests: mpsc::WeakSender<Request>,
    /// Connection, dial and handler tasks.
    tasks: JoinSet<()>,
    listeners: JoinSet<()>,
    stats: NetStats,
    seeds: Vec<SocketAddr>,
    /// The runtime's own bootstrap in progress.
    bootstrap: Option<CommandId>,
    rejoin: Rejoin,
    /// The routing table's size when the runtime's last bootstrap ended.
    joined: watch::Sender<Option<usize>>,
}

impl EngineTask {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut requests: mpsc::Receiver<Request>,
    ) {
        let mut batch = Vec::with_capacity(INPUT_BATCH);
        let mut asked = Vec::with_capacity(INPUT_BATCH);
        let shutdown = 'run: loop {
            self.carry_out();
            let deadline = [self.engine.poll_timeout(), self.rejoin.next_check()]
                .into_iter()
                .flatten()
                .min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                n = inputs.recv_many(&mut batch, INPUT_BATCH) => {
                    if n == 0 {
                        break None;
                    }
                    let now = now();
                    for input in batch.drain(..) {
                        self.on_input(input, now);
                    }
                }
                n = requests.recv_many(&mut asked, INPUT_BATCH) => {
                    if n == 0 {
                        break None;
                    }
                    let now = now();
                    for request in asked.drain(..) {
                        match request {
                            Request::Shutdown(reply) => break 'run Some(reply),
                            request => self.on_request(request, now),
                        }
                    }
                }
                () = sleep => {
                    let now = now();
                    if self.rejoin.next_check().is_some_and(|at| at <= now) {
                        let table_len = self.engine.routing_table().len();
                        let connections = self.engine.connection_count();
                        if self.rejoin.check(table_len, connections, now) {
                            self.start_bootstrap();
                        }
                    }
                    self.engine.handle_timeout(now);
                }
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        };
        self.shut_down(&mut inputs).await;
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    // ----- Inputs -----

    fn on_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Accepted { io, remote } => {
                self.stats.accepted += 1;
                let direction = Direction::Inbound { remote };
                self.open(io, direction, false, now);
            }
            Input::Dialed { addr, result } => match result {
                Ok(io) => {
                    let direction = Direction::Outbound { addr };
                    self.open(io, direction, true, now);
                }
                Err(error) => {
                    tracing::debug!(%addr, %error, "dial failed");
                    self.stats.dials_failed += 1;
                    self.engine.handle_dial_failed(addr, now);
                }
            },
            Input::Secured { conn, peer } => self.engine.handle_secured(conn, peer, now),
            Input::Data { conn, bytes } => self.engine.handle_bytes(conn, &bytes, now),
            Input::SendReady { conn } => self.engine.handle_send_ready(conn, now),
            Input::Closed { conn, why } => {
                if self.conns.remove(&conn).is_some() {
                    match why {
                        Ended::Channel(error) => {
                            tracing::debug!(conn = conn.0, %error, "secure channel failed");
                            self.stats.channel_failures += 1;
                        }
                        Ended::Io(error) => {
                            tracing::debug!(conn = conn.0, %error, "connection failed");
                            self.stats.io_errors += 1;
                        }
                        Ended::PeerClosed | Ended::Closed | Ended::RuntimeGone => {}
                    }
                    self.engine.handle_closed(conn, now);
                }
            }
        }
    }

    /// Starts a connection task for `io` and tells the engine.
    fn open(&mut self, io: BoxIo, direction: Direction, initiator: bool, now: Instant) {
        let mut seed = [0; 32];
        OsRng.fill_bytes(&mut seed);
        let channel = if initiator {
            SecureChannel::initiator(&self.identity, seed)
        } else {
            SecureChannel::responder(&self.identity, seed)
        };
        let Ok(channel) = channel else {
            self.stats.channel_failures += 1;
            return;
        };
        self.next_conn += 1;
        let conn = ConnectionId(self.next_conn);
        let (writer, writer_rx) = mpsc::channel(self.config.writer_queue);
        let blocked = Arc::new(AtomicBool::new(false));
        let task = Connection {
            conn,
            channel,
            writer: writer_rx,
            blocked: blocked.clone(),
            inputs: self.inputs.clone(),
            coalesce: self.config.coalesce_bytes,
        };
        self.tasks.spawn(task.run(io));
        self.conns.insert(conn, ConnHandle { writer, blocked });
        self.engine.handle_connected(conn, direction, now);
    }

    fn on_request(&mut self, request: Request, now: Instant) {
        match request {
            Request::Command { command, reply } => self.command(command, reply, now),
            Request::RegisterCustom {
                name,
                handler,
                reply,
            } => {
                self.handlers.insert(name.clone(), handler);
                self.command(Command::RegisterCustom { name }, Some(reply), now);
            }
            Request::Info(reply) => {
                let _ = reply.send(self.info());
            }
            // Handled by the loop.
            Request::Shutdown(_) => {}
        }
    }

    fn command(
        &mut self,
        command: Command,
        reply: Option<oneshot::Sender<Result<Option<Event>, NetError>>>,
        now: Instant,
    ) {
        let instant = ends_at_once(&command);
        if let Command::UnregisterCustom { name } = &command {
            self.handlers.remove(name);
        }
        let id = self.engine.handle_command(command, now);
        if let Some(reply) = reply {
            self.pending.insert(id, Waiting { reply });
        }
        // Its events, a failure included, come out at once.
        self.dispatch_events();
        if instant && let Some(waiting) = self.pending.remove(&id) {
            let _ = waiting.reply.send(Ok(None));
        }
    }

    // ----- Outputs -----

    /// Carries out everything the engine has for the driver.
    ///
    /// Transmissions go first: a connection the engine closes gets what
    /// the engine sent it before closing (a `NACK NOT_AUTHENTICATED`, say)
    /// before its writer is dropped.
    fn carry_out(&mut self) {
        let now = now();
        while let Some(Transmit { conn, bytes }) = self.engine.poll_transmit() {
            self.write(conn, bytes, now);
        }
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::Dial { addr } => self.dial(addr),
                Action::Close { conn, reason } => {
                    tracing::debug!(conn = conn.0, %reason, "engine closed connection");
                    // Dropping the writer flushes what was queued, then
                    // closes.
                    self.conns.remove(&conn);
                }
            }
        }
        self.dispatch_events();
    }

    fn write(&mut self, conn: ConnectionId, bytes: bytes::Bytes, now: Instant) {
        let Some(handle) = self.conns.get(&conn) else {
            self.stats.transmissions_dropped += 1;
            return;
        };
        self.stats.transmissions += 1;
        if handle.writer.try_send(bytes).is_err() {
            // The engine encodes nothing for a blocked connection, so this
            // is a connection already ending.
            self.stats.transmissions_dropped += 1;
            return;
        }
        if handle.writer.capacity() == 0 {
            handle.blocked.store(true, Ordering::Release);
            self.engine.handle_send_blocked(conn);
            // The connection task may have taken one before the flag was
            // set, and then sends no `SendReady`: take the flag back.
            if handle.writer.capacity() > 0 && handle.blocked.swap(false, Ordering::AcqRel) {
                self.engine.handle_send_ready(conn, now);
            }
        }
    }

    fn dial(&mut self, addr: SocketAddr) {
        self.stats.dials += 1;
        let transport = self.transport.clone();
        let inputs = self.inputs.clone();
        let timeout = self.config.connect_timeout;
        self.tasks.spawn(async move {
            let result = transport.dial(addr, timeout).await;
            let _ = inputs.send(Input::Dialed { addr, result }).await;
        });
    }

    fn dispatch_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            if let Some(id) = ends_command(&event) {
                if self.bootstrap == Some(id) {
                    self.bootstrap = None;
                    if let Event::BootstrapFinished { table_len, .. } = event {
                        self.joined.send_replace(Some(table_len));
                        if !self.seeds.is_empty() {
                            self.rejoin.bootstrapped(table_len, now());
                        }
                    }
                }
                if let Some(waiting) = self.pending.remove(&id) {
                    let result = match event {
                        Event::CommandFailed { error, .. } => Err(NetError::Command(error)),
                        event => Ok(Some(event)),
                    };
                    let _ = waiting.reply.send(result);
                }
                continue;
            }
            if let Event::Custom {
                name,
                data,
                reply,
                peer,
                ..
            } = &event
                && let Some(handler) = self.handlers.get(name)
            {
                let permit = match reply {
                    Some(_) => None,
                    None => match self.unanswered.clone().try_acquire_owned() {
                        Ok(permit) => Some(permit),
                        Err(_) => {
                            self.stats.customs_dropped += 1;
                            continue;
                        }
                    },
                };
                let request = CustomRequest {
                    peer: *peer,
                    name: name.clone(),
                    data: data.clone(),
                };
                let answer = handler(request);
                let reply = *reply;
                let requests = self.requests.clone();
                self.tasks.spawn(async move {
                    let answer = answer.await;
                    drop(permit);
                    if let (Some(reply), Some(requests)) = (reply, requests.upgrade()) {
                        let command = Command::ReplyCustom { reply, answer };
                        let _ = requests
                            .send(Request::Command {
                                command,
                                reply: None,
                            })
                            .await;
                    }
                });
                continue;
            }
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => self.stats.events_dropped += 1,
                // No one listens: nothing to count.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    // ----- Bootstrap -----

    fn start_bootstrap(&mut self) {
        if self.bootstrap.is_some() || self.seeds.is_empty() {
            return;
        }
        let seeds = self.seeds.clone();
        let id = self
            .engine
            .handle_command(Command::Bootstrap { seeds }, now());
        self.bootstrap = Some(id);
    }

    // ----- Listeners -----

    fn listen(&mut self, mut listener: Listener) {
        let inputs = self.inputs.clone();
        self.listeners.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((io, remote)) => {
                        if inputs.send(Input::Accepted { io, remote }).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        // Out of file descriptors, or a reset before the
                        // accept: pause instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }

    fn info(&self) -> NodeInfo {
        NodeInfo {
            connections: self.engine.connection_count(),
            routing_table: self.engine.routing_table().len(),
            stored_records: self.engine.stored_records(),
            engine: self.engine.stats(),
            net: self.stats,
            peers: self.engine.kept_peers().copied().collect(),
        }
    }

    // ----- Shutdown -----

    /// Stops listening, flushes what the engine has queued, closes every
    /// connection and waits (within the grace period) for their tasks.
    async fn shut_down(&mut self, inputs: &mut mpsc::Receiver<Input>) {
        self.listeners.abort_all();
        while self.listeners.join_next().await.is_some() {}
        self.carry_out();
        // Dropping the writers closes the connections once flushed.
        self.conns.clear();
        for (_, waiting) in std::mem::take(&mut self.pending) {
            let _ = waiting.reply.send(Err(NetError::Shutdown));
        }
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = self.tasks.join_next() => {
                    if joined.is_none() {
                        break;
                    }
                }
                // Keep draining reports so no task waits on a full queue.
                Some(_) = inputs.recv() => {}
                () = &mut grace => {
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }
}

/// Whether `command` has no event of its own to wait for.
fn ends_at_once(command: &Command) -> bool {
    matches!(
        command,
        Command::RegisterCustom { .. }
            | Command::UnregisterCustom { .. }
            | Command::ReplyCustom { .. }
            | Command::Custom { reply: false, .. }
    )
}

/// The command `event` ends, if it ends one.
fn ends_command(event: &Event) -> Option<CommandId> {
    match event {
        Event::LookupFinished { id, .. }
        | Event::Shouted { id, .. }
        | Event::Spoken { id, .. }
        | Event::BootstrapFinished { id, .. }
        | Event::PutFinished { id, .. }
        | Event::GetFinished { id, .. }
        | Event::WhisperFinished { id, .. }
        | Event::CustomAnswered { id, .. }
        | Event::CommandFailed { id, .. } => Some(*id),
        _ => None,
    }
}
