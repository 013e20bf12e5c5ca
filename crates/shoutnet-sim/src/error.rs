//! The simulator's errors (ARCHITECTURE.md, "Deterministic simulation").

/// Why a [`Sim`](crate::Sim) could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// More nodes than the simulated address range holds
    /// ([`MAX_NODES`](crate::MAX_NODES)).
    #[error("{n} nodes requested, at most {max} fit the address range")]
    TooManyNodes {
        /// Nodes requested.
        n: usize,
        /// The limit.
        max: usize,
    },
    /// A loss rate outside `[0, 1]`.
    #[error("loss rate {0} is not in [0, 1]")]
    BadLoss(f64),
    /// Fewer given keys than nodes, or keys of more than one profile.
    #[error("{given} keys given for {n} nodes, or of mixed profiles")]
    Keys {
        /// Keys given.
        given: usize,
        /// Nodes requested.
        n: usize,
    },
    /// Key generation failed.
    #[error("key generation: {0}")]
    Key(#[from] shoutnet_crypto::Error),
}

/// A run took more steps than allowed without reaching its goal.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("livelock: {steps} steps without becoming idle")]
pub struct Livelock {
    /// Steps taken.
    pub steps: u64,
}
