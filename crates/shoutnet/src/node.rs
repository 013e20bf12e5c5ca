//! A running node and what it can do (docs/PROTOCOL.md §8–§9).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_engine::{
    Command, CustomRefusal, Delivered, Event as EngineEvent, Found, PutReport, WhisperRoute,
};
use shoutnet_net::{CustomRequest, Handle, NodeInfo};
use shoutnet_wire::Value;

use crate::{Error, NodeBuilder};

/// Whether a whisper is encrypted end to end to its destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encryption {
    /// The node's default (on).
    #[default]
    Default,
    /// Encrypted: only the destination can read it.
    On,
    /// In the clear (signed, not secret). Recursive routing refuses it.
    Off,
}

impl Encryption {
    fn flag(self) -> Option<bool> {
        match self {
            Self::Default => None,
            Self::On => Some(true),
            Self::Off => Some(false),
        }
    }
}

/// A running node: cheap to clone, `Send + Sync`. It runs until
/// [`shutdown`](Self::shutdown), or until every clone is dropped.
#[derive(Clone, Debug)]
pub struct Node {
    handle: Handle,
}

impl Node {
    /// A builder with the defaults.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    pub(crate) fn new(handle: Handle) -> Self {
        Self { handle }
    }

    /// The runtime handle underneath, for raw engine commands.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The node's key: what others whisper to.
    pub fn key(&self) -> &Bytes {
        self.handle.key()
    }

    /// The node's routing address (SHA-256 of its key).
    pub fn address(&self) -> Address {
        self.handle.address()
    }

    /// The addresses it listens on; empty for a dial-out-only node.
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        self.handle.listen_addrs()
    }

    /// Waits for the first bootstrap through the seeds to end, and returns
    /// the routing table's size; [`Error::Alone`] if no seed answered (the
    /// node keeps trying).
    pub async fn joined(&self) -> Result<usize, Error> {
        match self.handle.joined().await? {
            0 => Err(Error::Alone),
            n => Ok(n),
        }
    }

    async fn run(&self, command: Command) -> Result<EngineEvent, Error> {
        self.handle.command(command).await?.ok_or(Error::Unexpected)
    }

    /// Broadcasts `data` to every node of the network. Returns the number
    /// of kept connections it left on; fails with
    /// [`NetError::Overloaded`](shoutnet_net::NetError::Overloaded) (inside
    /// [`Error::Net`]) when none could take it.
    ///
    /// A node opens its kept connections at its first upkeep after it
    /// joins, one maintenance interval (10 s by default) after its first
    /// handshake; until then a broadcast has nothing to flood over and
    /// this returns `Ok(0)`. Networks that start many nodes at once can
    /// shorten the interval with
    /// [`NodeBuilder::configure`](crate::NodeBuilder::configure) and
    /// `engine_mut().set_maintenance_interval(..)`, as
    /// [`LocalNetwork`](crate::local::LocalNetwork) does.
    pub async fn shout(&self, data: impl Into<Value>) -> Result<usize, Error> {
        match self.run(Command::Shout { data: data.into() }).await? {
            EngineEvent::Shouted { sent, .. } => Ok(sent),
            _ => Err(Error::Unexpected),
        }
    }

    /// Sends `data` to every direct peer; returns how many.
    pub async fn speak(&self, data: impl Into<Value>) -> Result<usize, Error> {
        match self.run(Command::Speak { data: data.into() }).await? {
            EngineEvent::Spoken { sent, .. } => Ok(sent),
            _ => Err(Error::Unexpected),
        }
    }

    /// Sends `data` to the node whose key is `to`, by the route the node
    /// chooses, and resolves when the destination acknowledged it with
    /// the digest of what it received.
    pub async fn whisper(
        &self,
        to: &Bytes,
        data: impl Into<Value>,
        encryption: Encryption,
    ) -> Result<Delivered, Error> {
        self.whisper_by(to, data, encryption, WhisperRoute::Auto)
            .await
    }

    /// [`whisper`](Self::whisper) by a route of the caller's choice.
    pub async fn whisper_by(
        &self,
        to: &Bytes,
        data: impl Into<Value>,
        encryption: Encryption,
        route: WhisperRoute,
    ) -> Result<Delivered, Error> {
        let command = Command::Whisper {
            to: to.clone(),
            data: data.into(),
            encrypt: encryption.flag(),
            route,
        };
        match self.run(command).await? {
            EngineEvent::WhisperFinished { result, .. } => Ok(result?),
            _ => Err(Error::Unexpected),
        }
    }

    /// Looks up the nodes closest to `target`, nearest first.
    pub async fn find_node(&self, target: Address) -> Result<Vec<Address>, Error> {
        match self.run(Command::FindNode { target }).await? {
            EngineEvent::LookupFinished { closest, .. } => Ok(closest),
            _ => Err(Error::Unexpected),
        }
    }

    /// Stores `value` under `key` in the DHT, one version higher than the
    /// node last published under it, for the longest TTL holders keep;
    /// the node republishes it while it runs.
    pub async fn put(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
    ) -> Result<PutReport, Error> {
        self.put_with(key, value, None, None).await
    }

    /// [`put`](Self::put) with an explicit version and TTL (seconds).
    pub async fn put_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
        version: Option<u64>,
        ttl: Option<u64>,
    ) -> Result<PutReport, Error> {
        let command = Command::Put {
            key: Bytes::copy_from_slice(key.as_ref()),
            value: value.into(),
            version,
            ttl,
        };
        match self.run(command).await? {
            EngineEvent::PutFinished { report, .. } => Ok(report),
            _ => Err(Error::Unexpected),
        }
    }

    /// Finds the value stored under `key`, if any node holds one.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Found>, Error> {
        let key = Bytes::copy_from_slice(key.as_ref());
        match self.run(Command::Get { key }).await? {
            EngineEvent::GetFinished { found, .. } => Ok(found),
            _ => Err(Error::Unexpected),
        }
    }

    /// Sends a `CUSTOM` request named `name` to `peer` and waits for its
    /// answer. A peer this node has no connection to and no address for
    /// is looked up first, so any node of the network can be asked.
    pub async fn custom(
        &self,
        peer: Address,
        name: &str,
        data: impl Into<Value>,
    ) -> Result<Value, Error> {
        let command = Command::Custom {
            peer,
            name: name.to_owned(),
            data: data.into(),
            reply: true,
        };
        match self.run(command).await? {
            EngineEvent::CustomAnswered { result, .. } => Ok(result?),
            _ => Err(Error::Unexpected),
        }
    }

    /// Serves `CUSTOM` requests named `name` (1 to 64 bytes) with
    /// `handler`: its answer goes back as `ACK CUSTOM`, its refusal as a
    /// `NACK`. Each request runs on its own task; one that takes longer
    /// than the engine's reply timeout (10 s) is refused for it. Resolves
    /// once the node serves the name.
    pub async fn register_custom<F, Fut>(&self, name: &str, handler: F) -> Result<(), Error>
    where
        F: Fn(CustomRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, CustomRefusal>> + Send + 'static,
    {
        let handler =
            Arc::new(move |request| -> shoutnet_net::CustomAnswer { Box::pin(handler(request)) });
        Ok(self.handle.register_custom(name, handler).await?)
    }

    /// A snapshot of the node's connections and counters.
    pub async fn info(&self) -> Result<NodeInfo, Error> {
        Ok(self.handle.info().await?)
    }

    /// Stops the node: flushes what is queued, closes every connection,
    /// and waits for its tasks.
    pub async fn shutdown(&self) -> Result<(), Error> {
        Ok(self.handle.shutdown().await?)
    }
}
