//! Scenarios built on [`Sim`] (ARCHITECTURE.md, "Deterministic
//! simulation"; docs/design.md §13 and §10 for what they measure).

pub mod broadcast;
pub mod dht;
pub mod join;
pub mod lookup;
pub mod whisper;

use std::collections::BTreeMap;
use std::time::Duration;

use shoutnet_engine::{CommandId, Event};

use crate::{Error, Livelock, LoggedEvent, Sim};

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

/// Steps `sim` until every `(node, command)` of `pending` has ended with
/// its `WhisperFinished`, `PutFinished`, `GetFinished` or `CommandFailed`
/// event, or `limit` of virtual time has passed, failing after
/// `max_steps` steps; returns the events in the order of `pending`
/// (`None`: not come). Reads them from [`Sim::take_finished`], dropping
/// every other event it holds, so give the commands after taking what you
/// need from it and do not take it before calling this.
pub fn await_finished(
    sim: &mut Sim,
    pending: &[(usize, CommandId)],
    limit: Duration,
    max_steps: u64,
) -> Result<Vec<Option<LoggedEvent>>, Livelock> {
    let index: BTreeMap<(usize, CommandId), usize> =
        pending.iter().enumerate().map(|(i, &p)| (p, i)).collect();
    let mut found: Vec<Option<LoggedEvent>> = vec![None; pending.len()];
    let mut left = pending.len();
    let deadline = sim.now() + limit;
    let mut steps = 0;
    loop {
        for e in sim.take_finished() {
            let id = match &e.event {
                Event::WhisperFinished { id, .. }
                | Event::PutFinished { id, .. }
                | Event::GetFinished { id, .. }
                | Event::CommandFailed { id, .. } => *id,
                _ => continue,
            };
            if let Some(&i) = index.get(&(e.node, id))
                && found[i].is_none()
            {
                found[i] = Some(e);
                left -= 1;
            }
        }
        if left == 0 || sim.now() >= deadline {
            return Ok(found);
        }
        if steps >= max_steps {
            return Err(Livelock { steps });
        }
        if !sim.step() {
            return Ok(found);
        }
        steps += 1;
    }
}
