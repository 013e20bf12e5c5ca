//! Scenarios built on [`Sim`](crate::Sim) (ARCHITECTURE.md, "Deterministic
//! simulation"; DESIGN R10 for what they measure).

pub mod lookup;
