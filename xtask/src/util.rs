//! Helpers shared by the xtask subcommands: the project root, timed steps,
//! `cargo metadata`, and locating external tools.

use std::{
    env,
    ffi::OsString,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use xshell::{Cmd, Shell, cmd};

/// The workspace root: the parent of this crate's directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A shell whose working directory is the workspace root.
pub(crate) fn shell() -> Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// Runs `f` as one named step: prints `==> name: shown`, then how long it
/// took. A failure is returned with the step's name attached.
pub(crate) fn step<T>(
    name: &str,
    shown: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<(T, Duration)> {
    let (result, elapsed) = timed("", name, shown, f);
    result.map(|value| (value, elapsed))
}

/// [`step`], with `counter` (such as `[3/14] `) before the name on the
/// progress line, returning the duration whether or not the step failed.
fn timed<T>(
    counter: &str,
    name: &str,
    shown: &str,
    f: impl FnOnce() -> Result<T>,
) -> (Result<T>, Duration) {
    eprintln!("==> {counter}{name}: {shown}");
    let start = Instant::now();
    let result = f();
    let elapsed = start.elapsed();
    match &result {
        Ok(_) => eprintln!("    {name}: ok ({})", fmt_duration(elapsed)),
        Err(_) => eprintln!("    {name}: FAILED after {}", fmt_duration(elapsed)),
    }
    (
        result.with_context(|| format!("step `{name}` failed")),
        elapsed,
    )
}

/// Runs a command quietly: [`step`] already printed it.
pub(crate) fn run_quiet(cmd: Cmd<'_>) -> Result<()> {
    cmd.quiet().run()?;
    Ok(())
}

/// An ordered list of steps that runs until the first failure and then prints
/// a table of every step's outcome and duration.
pub(crate) struct Plan<'a> {
    steps: Vec<PlannedStep<'a>>,
}

type Action<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

struct PlannedStep<'a> {
    name: String,
    shown: String,
    /// `None` for a step that was deliberately skipped; `shown` says why.
    action: Option<Action<'a>>,
}

enum Outcome {
    Ok(Duration),
    Failed(Duration),
    Skipped,
    NotRun,
}

impl<'a> Plan<'a> {
    pub(crate) fn new() -> Self {
        Self { steps: Vec::new() }
    }

    /// Adds a step that runs `cmd`, shown as it would be typed.
    pub(crate) fn cmd(&mut self, name: impl Into<String>, cmd: Cmd<'a>) {
        let shown = cmd.to_string();
        self.step(name, shown, move || run_quiet(cmd));
    }

    /// Adds a step that runs `f`, described on its progress line by `shown`.
    pub(crate) fn step(
        &mut self,
        name: impl Into<String>,
        shown: impl Into<String>,
        f: impl FnOnce() -> Result<()> + 'a,
    ) {
        self.steps.push(PlannedStep {
            name: name.into(),
            shown: shown.into(),
            action: Some(Box::new(f)),
        });
    }

    /// Adds a step that is listed as skipped, with the reason.
    pub(crate) fn skip(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        self.steps.push(PlannedStep {
            name: name.into(),
            shown: reason.into(),
            action: None,
        });
    }

    /// Runs the steps in order, stopping at the first failure, and prints the
    /// summary table either way.
    pub(crate) fn run(self) -> Result<()> {
        let total = self.steps.len();
        let mut rows = Vec::with_capacity(total);
        let mut failure = None;
        for (i, planned) in self.steps.into_iter().enumerate() {
            let counter = format!("[{}/{total}] ", i + 1);
            let outcome = match (planned.action, &failure) {
                (_, Some(_)) => Outcome::NotRun,
                (None, None) => {
                    eprintln!("==> {counter}{}: SKIPPED, {}", planned.name, planned.shown);
                    Outcome::Skipped
                }
                (Some(action), None) => {
                    match timed(&counter, &planned.name, &planned.shown, action) {
                        (Ok(()), elapsed) => Outcome::Ok(elapsed),
                        (Err(err), elapsed) => {
                            failure = Some(err);
                            Outcome::Failed(elapsed)
                        }
                    }
                }
            };
            rows.push((planned.name, outcome));
        }
        eprintln!("{}", summary_table(&rows));
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

fn summary_table(rows: &[(String, Outcome)]) -> String {
    let width = rows
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = String::from("\n==> summary\n");
    let mut total = Duration::ZERO;
    let _ = writeln!(out, "    {:<width$}  {:>8}  result", "step", "time");
    for (name, outcome) in rows {
        let (time, result) = match outcome {
            Outcome::Ok(d) => (fmt_duration(*d), "ok"),
            Outcome::Failed(d) => (fmt_duration(*d), "FAILED"),
            Outcome::Skipped => (String::from("-"), "SKIPPED"),
            Outcome::NotRun => (String::from("-"), "not run"),
        };
        if let Outcome::Ok(d) | Outcome::Failed(d) = outcome {
            total += *d;
        }
        let _ = writeln!(out, "    {name:<width$}  {time:>8}  {result}");
    }
    let _ = write!(out, "    {:<width$}  {:>8}", "total", fmt_duration(total));
    out
}

/// Formats a duration for humans: `4.2s`, or `3m07s` from a minute up.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// The parts of `cargo metadata --no-deps --format-version 1` xtask reads.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) packages: Vec<Package>,
    pub(crate) target_directory: PathBuf,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) manifest_path: PathBuf,
    /// `None` means "any registry"; `Some([])` is `publish = false`.
    pub(crate) publish: Option<Vec<String>>,
    pub(crate) description: Option<String>,
    pub(crate) license: Option<String>,
    pub(crate) license_file: Option<String>,
    pub(crate) repository: Option<String>,
    pub(crate) readme: Option<String>,
    pub(crate) dependencies: Vec<Dependency>,
    pub(crate) targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Dependency {
    /// The package name, even when the dependency is renamed.
    pub(crate) name: String,
    /// The version requirement; `*` for a path dependency without a version.
    pub(crate) req: String,
    /// `None` for a normal dependency, else `"dev"` or `"build"`.
    pub(crate) kind: Option<String>,
    /// Set for path dependencies, which inside a workspace means siblings.
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Target {
    pub(crate) kind: Vec<String>,
}

impl Metadata {
    /// Reads the workspace's own packages (no dependency resolution).
    pub(crate) fn load(sh: &Shell) -> Result<Self> {
        let json = cmd!(sh, "cargo metadata --no-deps --format-version 1")
            .quiet()
            .read()?;
        serde_json::from_str(&json).context("parsing `cargo metadata` output")
    }

    /// Packages whose directory is under `crates/`, sorted by name.
    pub(crate) fn crates(&self) -> Vec<&Package> {
        let crates_dir = project_root().join("crates");
        let mut crates: Vec<_> = self
            .packages
            .iter()
            .filter(|p| p.dir().starts_with(&crates_dir))
            .collect();
        crates.sort_by(|a, b| a.name.cmp(&b.name));
        crates
    }
}

impl Package {
    /// The directory holding the package's `Cargo.toml`.
    pub(crate) fn dir(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(Path::new("."))
    }

    pub(crate) fn is_publishable(&self) -> bool {
        self.publish
            .as_ref()
            .is_none_or(|registries| !registries.is_empty())
    }

    pub(crate) fn has_lib(&self) -> bool {
        self.targets.iter().any(|t| {
            t.kind
                .iter()
                .any(|k| k.contains("lib") || k == "proc-macro")
        })
    }

    /// Dependencies other than dev-dependencies.
    pub(crate) fn non_dev_deps(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies
            .iter()
            .filter(|d| d.kind.as_deref() != Some("dev"))
    }
}

/// The first `program` on `PATH`, if any.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The `PATH` under which `cargo <plugin>` finds its binary `cargo-<plugin>`:
/// the caller's own `PATH` if the binary is on it, else that `PATH` with the
/// project's `.venv/bin` (where `.ci/run` installs tools from PyPI) in front.
pub(crate) fn plugin_path(plugin: &str, install_hint: &str) -> Result<OsString> {
    let binary = format!("cargo-{plugin}");
    let path = env::var_os("PATH").unwrap_or_default();
    if which(&binary).is_some() {
        return Ok(path);
    }
    let venv_bin = project_root().join(".venv").join("bin");
    if venv_bin.join(&binary).is_file() {
        let dirs = std::iter::once(venv_bin).chain(env::split_paths(&path));
        return env::join_paths(dirs).context("building PATH");
    }
    bail!("`{binary}` is neither on PATH nor in .venv/bin: {install_hint}")
}

/// Every file below `dir`, as paths relative to it, sorted. Directories named
/// `target` are skipped.
pub(crate) fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("reading {}", current.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                if entry.file_name() != "target" {
                    pending.push(path);
                }
            } else if let Ok(relative) = path.strip_prefix(dir) {
                files.push(relative.to_path_buf());
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_millis(4_249)), "4.2s");
        assert_eq!(fmt_duration(Duration::from_secs(187)), "3m07s");
    }

    #[test]
    fn summary_lists_every_step() {
        let rows = [
            (String::from("fmt"), Outcome::Ok(Duration::from_secs(1))),
            (
                String::from("clippy"),
                Outcome::Failed(Duration::from_secs(2)),
            ),
            (String::from("interop"), Outcome::Skipped),
            (String::from("doc"), Outcome::NotRun),
        ];
        let table = summary_table(&rows);
        for expected in ["fmt", "1.0s  ok", "FAILED", "SKIPPED", "not run", "3.0s"] {
            assert!(
                table.contains(expected),
                "{expected:?} missing from\n{table}"
            );
        }
    }
}
