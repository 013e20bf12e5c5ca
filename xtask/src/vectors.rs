//! `cargo xtask vectors [--check]`: the committed test vectors of
//! docs/PROTOCOL.md §13 in `docs/vectors`, generated here, in-process, the
//! way rust-analyzer's `xtask codegen` writes its generated code.
//!
//! The generator lives in `vectors/`: `valid.rs` and `invalid.rs` list the
//! vectors, `messages.rs` builds their messages from the fixture keys
//! (`keys.rs`), `verify.rs` checks every vector against the decoder and the
//! cryptography before it is written, `handshake.rs` makes and checks the
//! handshake vector of §9.1, and `generate.rs` makes the files, among them
//! `README.md` from `README.head.md`. Generation is deterministic: the keys
//! are the committed fixture keys, the handshake's Noise keys are fixed
//! bytes, and signatures, ciphertexts and bindings are real, made with the
//! fixture private keys and a `ChaCha20Rng` seeded per vector.
//!
//! Both modes generate the tree in memory and compare it with the committed
//! one, so "regenerate" and "check" always agree on what is stale:
//! regenerating writes new and changed files and deletes files the
//! generator no longer produces.

mod generate;
mod handshake;
mod invalid;
mod keys;
mod messages;
mod valid;
mod verify;

use std::{
    fmt, fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

use crate::{
    flags,
    util::{files_under, project_root, step},
};

use self::generate::Files;

/// Where the vectors are committed, relative to the workspace root.
pub(crate) const DIR: &str = "docs/vectors";

/// How `check` shows itself on a progress line.
pub(crate) const CHECK_SHOWN: &str = "generate the vectors in memory (xtask/src/vectors), \
                                      then a byte comparison with docs/vectors";

pub(crate) fn run(flags: &flags::Vectors) -> Result<()> {
    if flags.check {
        step("vectors --check", CHECK_SHOWN, check)?;
    } else {
        let shown = "generate the vectors in memory (xtask/src/vectors), then sync them into \
                     docs/vectors";
        step("vectors", shown, regenerate)?;
    }
    Ok(())
}

/// Fails, listing the differences, unless `docs/vectors` holds exactly what
/// the generator produces now.
pub(crate) fn check() -> Result<()> {
    let diff = compare(&generate()?, &project_root().join(DIR))?;
    if diff.is_clean() {
        eprintln!("    {} vector files are up to date", diff.unchanged);
        Ok(())
    } else {
        bail!("{DIR} is out of date; run `cargo xtask vectors` and commit the result:\n{diff}")
    }
}

/// Brings `docs/vectors` up to date with the generator.
fn regenerate() -> Result<()> {
    let generated = generate()?;
    let committed = project_root().join(DIR);
    let diff = compare(&generated, &committed)?;
    for file in diff.stale.iter().chain(&diff.missing) {
        let dest = committed.join(file);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&dest, &generated[file])
            .with_context(|| format!("writing {}", dest.display()))?;
    }
    for file in &diff.extra {
        let path = committed.join(file);
        fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    eprintln!(
        "    {DIR}: {} changed, {} added, {} removed, {} unchanged",
        diff.stale.len(),
        diff.missing.len(),
        diff.extra.len(),
        diff.unchanged
    );
    Ok(())
}

/// Every file of the vector tree, made from the committed fixture keys.
fn generate() -> Result<Files> {
    let keys_dir = project_root().join(keys::DIR);
    let fixtures = keys::read_fixtures(&keys_dir)?;
    generate::generate(&fixtures, &keys_dir).context("generating the test vectors")
}

/// How a committed tree differs from a freshly generated one. Paths are
/// relative to the tree roots.
#[derive(Debug, Default, PartialEq)]
struct Diff {
    /// In both trees, with different bytes.
    stale: Vec<PathBuf>,
    /// Generated, but not committed.
    missing: Vec<PathBuf>,
    /// Committed, but no longer generated.
    extra: Vec<PathBuf>,
    unchanged: usize,
}

impl Diff {
    fn is_clean(&self) -> bool {
        self.stale.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups = [
            ("stale (contents differ)", &self.stale),
            ("missing (generated but not committed)", &self.missing),
            ("extra (committed but no longer generated)", &self.extra),
        ];
        for (title, files) in groups {
            if files.is_empty() {
                continue;
            }
            writeln!(f, "  {title}:")?;
            for file in files {
                writeln!(f, "    {}", file.display())?;
            }
        }
        Ok(())
    }
}

/// How the committed tree under `committed` (which may not exist yet)
/// differs from the `generated` one.
fn compare(generated: &Files, committed: &Path) -> Result<Diff> {
    let old_files = if committed.is_dir() {
        files_under(committed)?
    } else {
        Vec::new()
    };
    let mut diff = Diff::default();
    for (file, contents) in generated {
        if !old_files.contains(file) {
            diff.missing.push(file.clone());
        } else if &fs::read(committed.join(file))? == contents {
            diff.unchanged += 1;
        } else {
            diff.stale.push(file.clone());
        }
    }
    diff.extra = old_files
        .into_iter()
        .filter(|file| !generated.contains_key(file))
        .collect();
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use xshell::Shell;

    use super::*;

    fn files(list: &[(&str, &str)]) -> Files {
        list.iter()
            .map(|(path, contents)| (PathBuf::from(path), contents.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn compare_names_stale_missing_and_extra_files() -> Result<()> {
        let sh = Shell::new()?;
        let committed = sh.create_temp_dir()?;
        let old = committed.path();
        sh.write_file(old.join("same.json"), "1")?;
        sh.write_file(old.join("changed.json"), "3")?;
        sh.write_file(old.join("removed.bin"), "5")?;
        let new = files(&[
            ("same.json", "1"),
            ("changed.json", "2"),
            ("sub/added.bin", "4"),
        ]);

        let diff = compare(&new, old)?;
        assert_eq!(
            diff,
            Diff {
                stale: vec![PathBuf::from("changed.json")],
                missing: vec![PathBuf::from("sub/added.bin")],
                extra: vec![PathBuf::from("removed.bin")],
                unchanged: 1,
            }
        );
        let shown = diff.to_string();
        assert!(shown.contains("changed.json") && shown.contains("sub/added.bin"));
        Ok(())
    }

    #[test]
    fn a_missing_committed_tree_means_every_file_is_missing() -> Result<()> {
        let sh = Shell::new()?;
        let dir = sh.create_temp_dir()?;
        let diff = compare(&files(&[("a", "a")]), &dir.path().join("nowhere"))?;
        assert_eq!(diff.missing, [PathBuf::from("a")]);
        assert!(!diff.is_clean());
        Ok(())
    }

    /// The generator reproduces the committed `docs/vectors` byte for byte
    /// (what `cargo xtask vectors --check` checks), so `cargo test` fails on
    /// stale vectors too.
    #[test]
    fn docs_vectors_are_up_to_date() -> Result<()> {
        check()
    }
}
