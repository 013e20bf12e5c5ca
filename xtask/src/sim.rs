//! `cargo xtask sim <scenario> [--n N] [--seed S] [--lookups L] [--loss P]`:
//! runs a `shoutnet-sim` scenario in a release build and prints its table.
//!
//! This is how the 10,000-node lookup figures of docs/reports/lookup.md are
//! made: a benchmark command, never a CI test (docs/design.md §16).

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

use crate::flags;

pub(crate) fn run(sh: &Shell, flags: &flags::Sim) -> Result<()> {
    if flags.scenario != "lookup" {
        bail!(
            "unknown scenario `{}`: the simulator has `lookup`",
            flags.scenario
        );
    }
    let mut args = vec![flags.scenario.clone()];
    let mut push = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            args.push(format!("--{name}"));
            args.push(value);
        }
    };
    push("n", Some(flags.n.unwrap_or(1000).to_string()));
    push("seed", flags.seed.map(|s| s.to_string()));
    push("lookups", flags.lookups.map(|l| l.to_string()));
    push("loss", flags.loss.map(|l| l.to_string()));
    // The table goes to stdout and progress to stderr, both straight through.
    cmd!(
        sh,
        "cargo run --release --locked -p shoutnet-sim --bin shoutnet-sim -- {args...}"
    )
    .run()?;
    Ok(())
}
