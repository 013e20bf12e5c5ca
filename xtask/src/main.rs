//! `cargo xtask`: shoutnet's project automation (STYLE.md "xtask").
//!
//! One binary with no async runtime, in the style of rust-analyzer's xtask:
//! flags in `flags.rs`, one module per subcommand, shared helpers in
//! `util.rs`. Every subcommand runs from the workspace root, whatever the
//! caller's directory.

mod bench;
mod ci;
mod flags;
mod fuzz;
mod netns;
mod release;
mod sim;
mod tidy;
mod util;
mod vectors;

use std::process::ExitCode;

use anyhow::Result;

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The cause chain, without the backtrace anyhow would add under
            // RUST_BACKTRACE=1: the failing step's own output already says where.
            let mut causes = err.chain();
            if let Some(first) = causes.next() {
                eprintln!("error: {first}");
            }
            for cause in causes {
                eprintln!("caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<()> {
    let flags = flags::Xtask::from_env_or_exit();
    let sh = util::shell()?;
    match flags.subcommand {
        flags::XtaskCmd::Ci(cmd) => ci::run(&sh, &cmd),
        flags::XtaskCmd::Vectors(cmd) => vectors::run(&cmd),
        flags::XtaskCmd::Fuzz(cmd) => fuzz::run(&sh, &cmd),
        flags::XtaskCmd::Bench(cmd) => bench::run(&sh, &cmd),
        flags::XtaskCmd::Release(cmd) => release::run(&sh, &cmd),
        flags::XtaskCmd::Sim(cmd) => sim::run(&sh, &cmd),
        flags::XtaskCmd::Tidy(_) => tidy::run(&sh),
        flags::XtaskCmd::Netns(cmd) => netns::run(&sh, &cmd),
    }
}
