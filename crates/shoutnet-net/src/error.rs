//! Errors of the runtime (ARCHITECTURE.md, "The runtime and the facade").

use std::io;
use std::net::SocketAddr;

use shoutnet_engine::CommandError;

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Binding a listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The memory transport has no free address, or this one is taken.
    #[error("memory address {0} is taken")]
    AddressInUse(SocketAddr),
    /// The node's command queue is full: the caller is faster than the
    /// node. Nothing was done; try again later.
    #[error("overloaded: the node's command queue is full")]
    Overloaded,
    /// The node has shut down (or its task ended).
    #[error("the node has shut down")]
    Shutdown,
    /// The engine refused the command.
    #[error(transparent)]
    Command(#[from] CommandError),
}
