//! The facade's errors (ARCHITECTURE.md, "The runtime and the facade").

use shoutnet_engine::{RequestError, WhisperError};
use shoutnet_net::NetError;

/// Why a call on a [`Node`](crate::Node) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The runtime failed: it could not listen, is overloaded, has shut
    /// down, or the engine refused the command.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A key could not be generated or loaded.
    #[error("key: {0}")]
    Key(#[from] shoutnet_crypto::Error),
    /// A whisper was not delivered.
    #[error("whisper not delivered: {0}")]
    Whisper(#[from] WhisperError),
    /// A `CUSTOM` request got no answer.
    #[error("custom request failed: {0}")]
    Request(#[from] RequestError),
    /// A value could not be converted to or from a serde type.
    #[error("value conversion: {0}")]
    Serde(#[from] shoutnet_wire::SerdeError),
    /// A wait ran past its deadline; the text says what was waited for.
    #[error("timed out waiting for {0}")]
    TimedOut(&'static str),
    /// The bootstrap reached no seed.
    #[error("no seed could be reached")]
    Alone,
    /// The runtime answered with an event this call did not expect (a bug).
    #[error("unexpected answer from the runtime")]
    Unexpected,
}
