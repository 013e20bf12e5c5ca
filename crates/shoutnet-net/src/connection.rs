//! One task per connection (ARCHITECTURE.md, "The runtime and the
//! facade"; docs/PROTOCOL.md §9.1): it owns the socket and the connection's Noise
//! channel, reads and decrypts for the engine task, and encrypts and
//! writes what the engine task hands it, coalescing queued transmissions
//! into one Noise message.
//!
//! Reads and writes run side by side in one `select!` loop over the two
//! halves, so a peer that does not read cannot stop this node from
//! reading it (two nodes writing at once never deadlock). The decryption
//! and encryption, the expensive per-byte work, run here, on whichever
//! worker thread runs the task, not in the engine task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use shoutnet_engine::ConnectionId;
use shoutnet_engine::channel::{ChannelError, ChannelEvent, SecureChannel, SecuredPeer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::transport::BoxIo;

/// Bytes one read asks for.
const READ_CHUNK: usize = 64 * 1024;

/// What connection, listener and dial tasks tell the engine task.
pub(crate) enum Input {
    /// A listener accepted a connection.
    Accepted { io: BoxIo, remote: SocketAddr },
    /// A dial ended.
    Dialed {
        addr: SocketAddr,
        result: std::io::Result<BoxIo>,
    },
    /// The channel of `conn` completed its handshake.
    Secured {
        conn: ConnectionId,
        peer: SecuredPeer,
    },
    /// Plaintext of `conn`'s transmission stream.
    Data { conn: ConnectionId, bytes: Bytes },
    /// The writer of `conn` has room again after the engine task saw it
    /// full.
    SendReady { conn: ConnectionId },
    /// `conn` ended: closed by either side, or failed.
    Closed { conn: ConnectionId, why: Ended },
}

/// Why a connection task ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The engine closed it (dropped its writer) and it was flushed.
    Closed,
    /// The peer closed its side.
    PeerClosed,
    /// The socket failed.
    Io(std::io::Error),
    /// The secure channel failed (a bad handshake or a forged message).
    Channel(ChannelError),
    /// The engine task is gone.
    RuntimeGone,
}

/// The engine task's side of one connection.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    /// Whole transmissions to send, in order. Dropping it closes the
    /// connection once what was queued is written.
    pub(crate) writer: mpsc::Sender<Bytes>,
    /// Set by the engine task when it found `writer` full; the connection
    /// task clears it and sends [`Input::SendReady`] when it takes one.
    pub(crate) blocked: Arc<AtomicBool>,
}

/// Sealed bytes waiting to be written, as the channel handed them out.
#[derive(Debug, Default)]
struct Outgoing {
    queue: std::collections::VecDeque<Bytes>,
    len: usize,
}

impl Outgoing {
    fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.queue.push_back(bytes);
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The bytes to write next (empty when there are none).
    fn front(&self) -> &[u8] {
        self.queue.front().map_or(&[], |b| b.as_ref())
    }

    /// `n` bytes of the front were written.
    fn advance(&mut self, n: usize) {
        self.len -= n;
        if let Some(front) = self.queue.front_mut() {
            bytes::Buf::advance(front, n);
            if front.is_empty() {
                self.queue.pop_front();
            }
        }
    }
}

/// Everything one connection task needs.
pub(crate) struct Connection {
    pub(crate) conn: ConnectionId,
    pub(crate) channel: SecureChannel,
    pub(crate) writer: mpsc::Receiver<Bytes>,
    pub(crate) blocked: Arc<AtomicBool>,
    pub(crate) inputs: mpsc::Sender<Input>,
    pub(crate) coalesce: usize,
}

impl Connection {
    /// Runs the connection until it ends, then reports
    /// [`Input::Closed`].
    pub(crate) async fn run(mut self, io: BoxIo) {
        let why = self.serve(io).await;
        let conn = self.conn;
        let _ = self.inputs.send(Input::Closed { conn, why }).await;
    }

    async fn serve(&mut self, io: BoxIo) -> Ended {
        let (mut rd, mut wr) = tokio::io::split(io);
        let mut read = BytesMut::with_capacity(READ_CHUNK);
        // Sealed Noise messages waiting to be written, in order: written
        // from the channel's own buffers, without gathering them.
        let mut out = Outgoing::default();
        let mut plain = BytesMut::new();
        let mut events = Vec::new();
        let mut closing = false;
        self.take_output(&mut out);
        loop {
            if closing && out.is_empty() {
                let _ = wr.shutdown().await;
                return Ended::Closed;
            }
            tokio::select! {
                written = wr.write(out.front()), if !out.is_empty() => {
                    match written {
                        Ok(n) => out.advance(n),
                        Err(e) => return Ended::Io(e),
                    }
                }
                next = self.writer.recv(), if !closing && out.len() < self.coalesce => {
                    let Some(first) = next else {
                        closing = true;
                        continue;
                    };
                    self.ready().await;
                    // Transmissions queued together are sealed together;
                    // a lone one is sealed as it is, without a copy.
                    let sealed = match self.writer.try_recv() {
                        Err(_) => self.channel.send(&first),
                        Ok(second) => {
                            self.ready().await;
                            plain.clear();
                            plain.extend_from_slice(&first);
                            plain.extend_from_slice(&second);
                            while plain.len() < self.coalesce {
                                let Ok(more) = self.writer.try_recv() else { break };
                                self.ready().await;
                                plain.extend_from_slice(&more);
                            }
                            self.channel.send(&plain)
                        }
                    };
                    if let Err(e) = sealed {
                        return Ended::Channel(e);
                    }
                    self.take_output(&mut out);
                }
                got = rd.read_buf(&mut read) => {
                    match got {
                        Ok(0) => return Ended::PeerClosed,
                        Ok(_) => {}
                        Err(e) => return Ended::Io(e),
                    }
                    let received = self.channel.receive(&read, &mut events);
                    read.clear();
                    read.reserve(READ_CHUNK);
                    self.take_output(&mut out);
                    for event in events.drain(..) {
                        let conn = self.conn;
                        let input = match event {
                            ChannelEvent::Secured(peer) => Input::Secured { conn, peer },
                            ChannelEvent::Data(bytes) => Input::Data { conn, bytes },
                        };
                        if self.inputs.send(input).await.is_err() {
                            return Ended::RuntimeGone;
                        }
                    }
                    if let Err(e) = received {
                        return Ended::Channel(e);
                    }
                }
            }
        }
    }

    /// Moves what the channel has to send into `out`.
    fn take_output(&mut self, out: &mut Outgoing) {
        while let Some(bytes) = self.channel.take_output() {
            out.push(bytes);
        }
    }

    /// A transmission was taken from the writer queue: if the engine task
    /// had found it full, tell it there is room.
    async fn ready(&self) {
        if self.blocked.swap(false, Ordering::AcqRel) {
            let conn = self.conn;
            let _ = self.inputs.send(Input::SendReady { conn }).await;
        }
    }
}
