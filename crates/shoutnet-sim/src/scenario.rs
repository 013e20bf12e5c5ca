//! Scenarios built on [`Sim`](crate::Sim) (ARCHITECTURE.md, "Deterministic
//! simulation"; docs/design.md §13 for what they measure).

pub mod lookup;
