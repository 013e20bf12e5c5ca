//! `cargo xtask tidy`: the source-tree rules of STYLE.md that a compiler does
//! not check. The `tidy` test at the bottom runs the same checks, so plain
//! `cargo test` enforces them (rust-analyzer's `tidy.rs` does the same).

use std::path::{Component, Path};

use anyhow::{Context, Result, bail};
use xshell::Shell;

use crate::util::{Metadata, files_under, project_root, step};

/// The facade; no library crate under `crates/` may depend on it (libp2p's
/// rule), only the applications of [`FACADE_USERS`].
const FACADE: &str = "shoutnet";

/// Binary-only crates, applications of the facade that no crate depends on.
const FACADE_USERS: &[&str] = &["shoutnet-cli"];

/// The only crates allowed a normal dependency on tokio: the runtime driver,
/// the facade and the CLI.
const TOKIO_USERS: &[&str] = &["shoutnet-net", "shoutnet-cli", "shoutnet"];

/// The pure crates of STYLE.md's crate map. Each needs the same `clippy.toml`
/// (banned clocks, RNGs and std hash maps), because clippy reads only the
/// nearest `clippy.toml` and never merges.
const PURE_CRATES: &[&str] = &[
    "shoutnet-wire",
    "shoutnet-compress",
    "shoutnet-crypto",
    "shoutnet-kad",
    "shoutnet-flood",
    "shoutnet-dht",
    "shoutnet-engine",
    "shoutnet-sim",
];

/// The engine's orchestrator: the only file of `ENGINE_SRC` that may hold an
/// `impl NodeEngine` (ARCHITECTURE.md, "The engine's parts").
const ENGINE_ORCHESTRATOR: &str = "crates/shoutnet-engine/src/engine.rs";

/// The engine's sources, relative to the workspace root.
const ENGINE_SRC: &str = "crates/shoutnet-engine/src";

/// The `clippy.toml` every pure crate copies.
const CLIPPY_REFERENCE: &str = "crates/shoutnet-wire/clippy.toml";

/// Markers of stubs and skipped tests. Split with `concat!` so that this file
/// does not contain them.
const STUB_MARKERS: &[&str] = &[
    concat!("todo", "!("),
    concat!("unimplemented", "!("),
    concat!("#[", "ignore"),
];

pub(crate) fn run(sh: &Shell) -> Result<()> {
    step("tidy", "source-tree rules from STYLE.md", || check(sh))?;
    Ok(())
}

/// Runs every rule and reports every violation at once.
pub(crate) fn check(sh: &Shell) -> Result<()> {
    let root = project_root();
    let metadata = Metadata::load(sh)?;
    let mut problems = Vec::new();

    check_sources(&root, &mut problems)?;
    for package in &metadata.packages {
        let manifest = std::fs::read_to_string(&package.manifest_path)
            .with_context(|| format!("reading {}", package.manifest_path.display()))?;
        if !has_workspace_lints(&manifest) {
            problems.push(format!(
                "{}: needs `[lints] workspace = true`",
                relative(&root, &package.manifest_path)
            ));
        }
        let tokio = package
            .dependencies
            .iter()
            .any(|d| d.name == "tokio" && d.kind.is_none());
        if tokio && !TOKIO_USERS.contains(&package.name.as_str()) {
            problems.push(format!(
                "{}: only {} may depend on tokio",
                package.name,
                TOKIO_USERS.join(", ")
            ));
        }
    }

    let reference = std::fs::read(root.join(CLIPPY_REFERENCE)).ok();
    for krate in metadata.crates() {
        let name = &krate.name;
        if name != FACADE
            && !FACADE_USERS.contains(&name.as_str())
            && krate.dependencies.iter().any(|d| d.name == FACADE)
        {
            problems.push(format!("{name}: depends on the facade crate `{FACADE}`"));
        }
        if !krate.dir().join("README.md").is_file() {
            problems.push(format!("{name}: has no README.md"));
        }
        // Until the reference exists there is nothing to compare with.
        if let Some(reference) = &reference
            && PURE_CRATES.contains(&name.as_str())
            && std::fs::read(krate.dir().join("clippy.toml")).ok().as_ref() != Some(reference)
        {
            problems.push(format!(
                "{name}: is a pure crate, so its clippy.toml must be a copy of {CLIPPY_REFERENCE}"
            ));
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} tidy problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
    }
}

/// The per-file rules: a `//!` opening (naming the spec section in library
/// code), and no stubs.
fn check_sources(root: &Path, problems: &mut Vec<String>) -> Result<()> {
    let trees = [("crates", true), ("xtask", false)];
    for (tree, is_crates) in trees {
        let dir = root.join(tree);
        for file in files_under(&dir)? {
            if file.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let path = dir.join(&file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let shown = Path::new(tree).join(&file);
            let shown = shown.display();

            let in_src = is_crates || file.starts_with("src");
            let opening = opening_doc(&text);
            if in_src && opening.is_none() {
                problems.push(format!("{shown}: must start with a `//!` comment"));
            }
            let cites_docs =
                |doc: &str| doc.contains("PROTOCOL.md") || doc.contains("ARCHITECTURE.md");
            if let Some(doc) = opening
                && is_crates
                && !is_support_file(&file)
                && !cites_docs(&doc)
            {
                problems.push(format!(
                    "{shown}: its opening `//!` comment must name the PROTOCOL.md \
                     (or ARCHITECTURE.md) section it implements"
                ));
            }
            for (number, line) in text.lines().enumerate() {
                if let Some(marker) = STUB_MARKERS.iter().find(|m| line.contains(*m)) {
                    problems.push(format!("{shown}:{}: contains `{marker}`", number + 1));
                }
            }
            if let Some(number) = foreign_engine_impl(&shown.to_string(), &text) {
                problems.push(format!(
                    "{shown}:{number}: `impl NodeEngine` outside {ENGINE_ORCHESTRATOR}; make \
                     it a part that returns outcomes (ARCHITECTURE.md, \"The engine's parts\")"
                ));
            }
        }
    }
    Ok(())
}

/// The line number of an `impl NodeEngine` block in `path` (relative to the
/// workspace root) if `path` is an engine source other than the
/// orchestrator.
fn foreign_engine_impl(path: &str, text: &str) -> Option<usize> {
    let path = path.replace('\\', "/");
    if !path.starts_with(ENGINE_SRC) || path == ENGINE_ORCHESTRATOR {
        return None;
    }
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.starts_with("impl NodeEngine") || line.starts_with("impl crate::NodeEngine")
        })
        .map(|i| i + 1)
}

/// The contiguous `//!` lines a file starts with, or `None` if its first line
/// is not one.
fn opening_doc(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .collect();
    if lines.is_empty() {
        None
    } else {
        Some(lines.join("\n"))
    }
}

/// Tests, benches, examples, binaries and build scripts implement no spec
/// section, so they only need some `//!` opening. `file` is relative to
/// `crates/`.
fn is_support_file(file: &Path) -> bool {
    let dirs: Vec<_> = file
        .components()
        .skip(1) // the crate's own directory
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    let Some((name, parents)) = dirs.split_last() else {
        return false;
    };
    let in_dir = |dir: &str| parents.contains(&dir);
    in_dir("tests")
        || in_dir("benches")
        || in_dir("examples")
        || parents.windows(2).any(|w| w == ["src", "bin"])
        || *name == "main.rs"
        || (*name == "build.rs" && parents.is_empty())
}

/// Whether a manifest opts into the workspace lints, as a `[lints]` table
/// or the dotted `lints.workspace = true` form.
fn has_workspace_lints(manifest: &str) -> bool {
    let mut table = String::new();
    for line in manifest.lines() {
        let line: String = line
            .split('#')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if line.starts_with('[') {
            table = line;
        } else if (table == "[lints]" && line == "workspace=true")
            || (table.is_empty()
                && ["lints.workspace=true", "lints={workspace=true}"].contains(&line.as_str()))
        {
            return true;
        }
    }
    false
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree itself obeys every rule, so `cargo test` enforces them.
    #[test]
    fn tidy() -> Result<()> {
        check(&crate::util::shell()?)
    }

    #[test]
    fn engine_impls_live_in_the_orchestrator_only() {
        let block = "//! x\nimpl NodeEngine {\n}\n";
        assert_eq!(
            foreign_engine_impl("crates/shoutnet-engine/src/pool.rs", block),
            Some(2)
        );
        assert_eq!(foreign_engine_impl(ENGINE_ORCHESTRATOR, block), None);
        assert_eq!(
            foreign_engine_impl("crates/shoutnet-sim/src/sim.rs", block),
            None
        );
        let other = "impl Pool {}\n// impl NodeEngine is a phrase in a comment\n";
        assert_eq!(
            foreign_engine_impl("crates/shoutnet-engine/src/pool.rs", other),
            None
        );
    }

    #[test]
    fn opening_doc_is_the_leading_block() {
        let text = "//! Headers.\n//!\n//! PROTOCOL.md §3.\n\nuse x;\n//! late\n";
        assert_eq!(
            opening_doc(text).as_deref(),
            Some("//! Headers.\n//!\n//! PROTOCOL.md §3.")
        );
        assert_eq!(opening_doc("\n//! after a blank line\n"), None);
        assert_eq!(opening_doc("#![deny(missing_docs)]\n//! doc\n"), None);
    }

    #[test]
    fn support_files_need_no_spec_reference() {
        let check = |path: &str, expected: bool| {
            assert_eq!(is_support_file(Path::new(path)), expected, "{path}");
        };
        check("shoutnet-wire/tests/corpus.rs", true);
        check("shoutnet-wire/benches/codec.rs", true);
        check("shoutnet-wire/examples/dump.rs", true);
        check("shoutnet-cli/src/bin/extra.rs", true);
        check("shoutnet-cli/src/main.rs", true);
        check("shoutnet-compress/build.rs", true);
        check("shoutnet-wire/src/header.rs", false);
        check("shoutnet-wire/src/lib.rs", false);
        check("shoutnet-wire/src/build.rs", false);
        check("shoutnet-tests/src/header.rs", false);
    }

    #[test]
    fn workspace_lints_in_either_spelling() {
        let check = |manifest: &str, expected: bool| {
            assert_eq!(has_workspace_lints(manifest), expected, "{manifest}");
        };
        check(
            "[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n",
            true,
        );
        check(
            "[package]\nname = \"a\"\n[lints]\nworkspace=true # shared\n",
            true,
        );
        check("lints.workspace = true\n[package]\nname = \"a\"\n", true);
        check("[package]\nname = \"a\"\n", false);
        check("[lints]\n# workspace = true\n", false);
        check("[lints.rust]\nworkspace = true\n", false);
        check("[features]\nworkspace = true\n", false);
    }

    #[test]
    fn stub_markers_are_not_literal_in_this_file() {
        let source = include_str!("tidy.rs");
        for marker in STUB_MARKERS {
            assert!(!source.contains(marker), "{marker}");
        }
    }
}
