//! `cargo xtask sim <scenario> [--n N] [--seed S] [--lookups L] [--loss P]
//! [--l L1,L2] [--shouts S] [--crash P] [--whispers W] [--route R]
//! [--listening-share P] [--puts P] [--gets G] [--join P]`: runs a
//! `shoutnet-sim` scenario (`lookup`, `broadcast`, `whisper` or `dht`) in a
//! release build and prints its table.
//!
//! This is how the 10,000-node figures of docs/reports/lookup.md and
//! docs/reports/broadcast.md are made: benchmark commands, never CI tests
//! (docs/design.md §16).

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

use crate::flags;

pub(crate) fn run(sh: &Shell, flags: &flags::Sim) -> Result<()> {
    if !["lookup", "broadcast", "whisper", "dht"].contains(&flags.scenario.as_str()) {
        bail!(
            "unknown scenario `{}`: the simulator has `lookup`, `broadcast`, `whisper` and `dht`",
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
    push("l", flags.l.clone());
    push("shouts", flags.shouts.map(|s| s.to_string()));
    push("crash", flags.crash.map(|c| c.to_string()));
    push("whispers", flags.whispers.map(|w| w.to_string()));
    push("route", flags.route.clone());
    push(
        "listening-share",
        flags.listening_share.map(|s| s.to_string()),
    );
    push("puts", flags.puts.map(|p| p.to_string()));
    push("gets", flags.gets.map(|g| g.to_string()));
    push("join", flags.join.map(|j| j.to_string()));
    // The table goes to stdout and progress to stderr, both straight through.
    cmd!(
        sh,
        "cargo run --release --locked -p shoutnet-sim --bin shoutnet-sim -- {args...}"
    )
    .run()?;
    Ok(())
}
