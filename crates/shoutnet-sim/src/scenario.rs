//! Scenarios built on [`Sim`](crate::Sim) (ARCHITECTURE.md, "Deterministic
//! simulation"; docs/design.md §13 and §10 for what they measure).

pub mod broadcast;
pub mod dht;
pub mod join;
pub mod lookup;
pub mod whisper;

use crate::{Error, Livelock};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The simulator could not be built.
    #[error(transparent)]
    Sim(#[from] Error),
    /// A phase never finished.
    #[error(transparent)]
    Livelock(#[from] Livelock),
}

/// The nearest-rank `q` quantile of sorted `values` (`None` if empty).
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}
