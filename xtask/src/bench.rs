//! `cargo xtask bench [NAME] [--quick]`: runs the criterion benchmarks and
//! says where criterion wrote its results; `cargo xtask bench net` runs the
//! network benchmark (`crates/shoutnet/benches/net.rs`), which prints one
//! table.
//!
//! Benchmarks are measured here and never in timed tests (docs/design.md §16).

use anyhow::Result;
use xshell::{Shell, cmd};

use crate::{
    flags,
    util::{Metadata, run_quiet, step},
};

pub(crate) fn run(sh: &Shell, flags: &flags::Bench) -> Result<()> {
    // Only `[[bench]]` targets: `--benches` would also run the library and
    // binaries under libtest's bench harness, which rejects criterion's
    // flags such as `--quick`.
    let selection = flags.name.as_deref().unwrap_or("*");
    let criterion_args: &[&str] = if flags.quick { &["--quick"] } else { &[] };
    let bench = cmd!(
        sh,
        "cargo bench --workspace --locked --bench {selection} -- {criterion_args...}"
    );
    step("bench", &bench.to_string(), || run_quiet(bench))?;

    // `net` prints its own table and is not a criterion benchmark.
    if selection == "net" {
        return Ok(());
    }
    let criterion_dir = Metadata::load(sh)?.target_directory.join("criterion");
    if criterion_dir.is_dir() {
        eprintln!(
            "criterion wrote its results to {}: one directory per benchmark, with the \
             latest figures in `<group>/<bench>/new/estimates.json` and the previous run \
             in `base/`, which later runs compare against",
            criterion_dir.display()
        );
        let html = criterion_dir.join("report").join("index.html");
        if html.is_file() {
            eprintln!("HTML report: {}", html.display());
        }
    } else {
        eprintln!(
            "criterion wrote nothing to {}: no benchmark ran",
            criterion_dir.display()
        );
    }
    Ok(())
}
