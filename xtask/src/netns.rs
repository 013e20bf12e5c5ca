//! `cargo xtask netns [--partition-hold S]`: builds the `shoutnet` binary
//! and runs `tools/netns/netns_test.py`, which puts one `shoutnet node` on
//! each of 8 hosts made of Linux network namespaces (ARCHITECTURE.md, "The
//! runtime and the facade"; tools/netns/README.md).
//!
//! It needs root and `ip` (iproute2); where namespaces cannot be made the
//! script says why and exits 77, which this reports as a skip, not a
//! failure, so that `cargo xtask ci` passes on machines without them.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

use crate::flags;
use crate::util::Metadata;

/// The test script.
pub(crate) const SCRIPT: &str = "tools/netns/netns_test.py";

/// The script's exit code for "cannot make namespaces here".
const SKIPPED: i32 = 77;

/// What a run came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every check passed.
    Passed,
    /// Namespaces cannot be made here; the script printed why.
    Skipped,
}

pub(crate) fn run(sh: &Shell, flags: &flags::Netns) -> Result<()> {
    let binary = build(sh)?;
    match test(sh, &binary, flags.partition_hold)? {
        Outcome::Passed => Ok(()),
        Outcome::Skipped => {
            eprintln!("netns: skipped (see the SKIP line above)");
            Ok(())
        }
    }
}

/// Builds the debug `shoutnet` binary; returns its path.
pub(crate) fn build(sh: &Shell) -> Result<PathBuf> {
    cmd!(sh, "cargo build -p shoutnet-cli --locked")
        .quiet()
        .run()?;
    let target = Metadata::load(sh)?.target_directory;
    Ok(target.join("debug").join("shoutnet"))
}

/// Runs the script against `binary`.
pub(crate) fn test(sh: &Shell, binary: &Path, hold: Option<f64>) -> Result<Outcome> {
    let hold = hold.map(|h| h.to_string());
    let hold_args: Vec<&str> = match &hold {
        Some(h) => vec!["--partition-hold", h],
        None => Vec::new(),
    };
    let output = cmd!(sh, "python3 {SCRIPT} {binary} {hold_args...}")
        .ignore_status()
        .output()?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    match output.status.code() {
        Some(0) => Ok(Outcome::Passed),
        Some(SKIPPED) => Ok(Outcome::Skipped),
        other => bail!("{SCRIPT} failed (exit {other:?}): see its table above"),
    }
}
