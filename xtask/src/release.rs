//! `cargo xtask release [--dry-run | --yes]`: checks the publishable crates'
//! metadata and publishes them in dependency order.
//!
//! The upload itself is cargo's multi-package `cargo publish --workspace`
//! (stable since cargo 1.90): it packages every crate, verifies each against
//! the others through a local overlay registry, so a crate can be verified
//! before its siblings are on crates.io, and uploads in dependency order.

use std::{
    collections::{BTreeMap, BTreeSet},
    env, fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    flags,
    util::{Metadata, Package, project_root, run_quiet, step},
};

pub(crate) fn run(sh: &Shell, flags: &flags::Release) -> Result<()> {
    match (flags.dry_run, flags.yes) {
        (true, true) => bail!("--dry-run and --yes contradict each other"),
        (false, false) => bail!(
            "publishing uploads to crates.io and cannot be undone: pass --dry-run to check \
             everything without uploading, or --yes to really publish"
        ),
        _ => {}
    }
    let manifest = sh.read_file(project_root().join("Cargo.toml"))?;
    let version = workspace_version(&manifest)
        .context("the root Cargo.toml has no `version` in [workspace.package]")?;
    let metadata = Metadata::load(sh)?;
    let order = publish_order(&metadata.packages)?;
    if order.is_empty() {
        bail!("no workspace crate is publishable");
    }
    let problems = check_packages(&metadata.packages, &order, &version);
    if !problems.is_empty() {
        bail!(
            "{} problem(s) block a release:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    let names: Vec<&str> = order.iter().map(|p| p.name.as_str()).collect();
    eprintln!("    version {version}; publish order: {}", names.join(", "));

    remove_stale_overlay_sources(&order)?;
    // Cargo also caches what it built from the overlay registry by name and
    // version, as if registry crates never changed, so verification gets a
    // target directory of its own, emptied first.
    let target_dir = project_root().join("target").join("xtask-release");
    if target_dir.exists() {
        fs::remove_dir_all(&target_dir)
            .with_context(|| format!("removing {}", target_dir.display()))?;
    }
    let publish = if flags.dry_run {
        cmd!(
            sh,
            "cargo publish --workspace --locked --dry-run --allow-dirty --target-dir {target_dir}"
        )
    } else {
        cmd!(
            sh,
            "cargo publish --workspace --locked --target-dir {target_dir}"
        )
    };
    step("publish", &publish.to_string(), || run_quiet(publish))?;
    Ok(())
}

/// Deletes cargo's unpacked copies of our own crates from earlier dry runs.
///
/// The multi-package publish verifies each crate against its siblings through
/// a local overlay registry, which cargo unpacks under
/// `$CARGO_HOME/registry/src/-<hash>/<crate>-<version>/`. Cargo takes registry
/// crates to be immutable, so on the next run it reuses that directory even
/// though the sources changed under the same version, and verification then
/// compiles stale code (seen here: `shoutnet-wire` verified against a
/// placeholder `shoutnet-compress`). Only directories of local registries
/// (named `-<hash>`) are touched; cargo unpacks them again from the overlay.
fn remove_stale_overlay_sources(packages: &[&Package]) -> Result<()> {
    let cargo_home = match env::var_os("CARGO_HOME") {
        Some(home) => PathBuf::from(home),
        None => match env::var_os("HOME") {
            Some(home) => Path::new(&home).join(".cargo"),
            None => return Ok(()),
        },
    };
    let Ok(registries) = fs::read_dir(cargo_home.join("registry").join("src")) else {
        return Ok(());
    };
    for registry in registries {
        let registry = registry?;
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for package in packages {
            let unpacked = registry
                .path()
                .join(format!("{}-{}", package.name, package.version));
            if unpacked.is_dir() {
                fs::remove_dir_all(&unpacked)
                    .with_context(|| format!("removing {}", unpacked.display()))?;
            }
        }
    }
    Ok(())
}

/// `version` from the `[workspace.package]` table of the root manifest.
fn workspace_version(manifest: &str) -> Option<String> {
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
        } else if in_table {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if key.trim() == "version" {
                return Some(value.trim().trim_matches('"').to_owned());
            }
        }
    }
    None
}

/// Publishable packages, each after the workspace packages it needs at
/// build time (normal and build dependencies), ties broken by name.
fn publish_order(packages: &[Package]) -> Result<Vec<&Package>> {
    let publishable: BTreeMap<&str, &Package> = packages
        .iter()
        .filter(|p| p.is_publishable())
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut waiting_on: BTreeMap<&str, BTreeSet<&str>> = publishable
        .values()
        .map(|p| {
            let deps = p
                .non_dev_deps()
                .map(|d| d.name.as_str())
                .filter(|name| publishable.contains_key(name) && *name != p.name)
                .collect();
            (p.name.as_str(), deps)
        })
        .collect();
    let mut order = Vec::with_capacity(publishable.len());
    while !waiting_on.is_empty() {
        let Some(ready) = waiting_on
            .iter()
            .find(|(_, deps)| deps.is_empty())
            .map(|(name, _)| *name)
        else {
            let stuck: Vec<_> = waiting_on.keys().copied().collect();
            bail!("dependency cycle among {}", stuck.join(", "));
        };
        waiting_on.remove(ready);
        for deps in waiting_on.values_mut() {
            deps.remove(ready);
        }
        order.push(publishable[ready]);
    }
    Ok(order)
}

/// Everything about `order` that would make a release wrong or impossible.
fn check_packages(all: &[Package], order: &[&Package], version: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for package in order {
        let name = &package.name;
        if package.version != version {
            problems.push(format!(
                "{name} has version {}, the workspace {version}: use `version.workspace = true`",
                package.version
            ));
        }
        let fields = [
            ("description", &package.description),
            ("repository", &package.repository),
            ("readme", &package.readme),
        ];
        for (field, value) in fields {
            if value.as_deref().is_none_or(str::is_empty) {
                problems.push(format!("{name} does not set `{field}`"));
            }
        }
        if package.license.is_none() && package.license_file.is_none() {
            problems.push(format!("{name} does not set `license`"));
        }
        for dep in &package.dependencies {
            let Some(sibling) = dep
                .path
                .as_ref()
                .and(all.iter().find(|p| p.name == dep.name))
            else {
                continue;
            };
            // cargo drops path dev-dependencies that have no version.
            if dep.kind.as_deref() == Some("dev") && dep.req == "*" {
                continue;
            }
            if !sibling.is_publishable() {
                problems.push(format!(
                    "{name} depends on {}, which is `publish = false`",
                    dep.name
                ));
            }
            if dep.req.trim_start_matches(['^', '=']) != version {
                problems.push(format!(
                    "{name} depends on {} with requirement `{}`; it must carry \
                     `version = \"{version}\"` next to the path",
                    dep.name, dep.req
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, publish: bool, deps: &[(&str, &str, Option<&str>)]) -> Package {
        let deps: Vec<_> = deps
            .iter()
            .map(|(dep, req, kind)| {
                serde_json::json!({
                    "name": dep, "req": req, "kind": kind, "path": format!("/ws/crates/{dep}"),
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "name": name,
            "version": "0.1.0",
            "manifest_path": format!("/ws/crates/{name}/Cargo.toml"),
            "publish": if publish { None } else { Some(Vec::<String>::new()) },
            "description": "d",
            "license": "MIT OR Apache-2.0",
            "license_file": null,
            "repository": "https://example.invalid/shoutnet",
            "readme": "README.md",
            "dependencies": deps,
            "targets": [{ "kind": ["lib"] }],
        }))
        .expect("a valid test package")
    }

    #[test]
    fn reads_the_workspace_version() {
        let manifest = "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2024\"\n\
                        version = \"0.3.1\"\n\n[workspace.dependencies]\nversion = \"9\"\n";
        assert_eq!(workspace_version(manifest).as_deref(), Some("0.3.1"));
        assert_eq!(workspace_version("[package]\nversion = \"1.0.0\"\n"), None);
    }

    #[test]
    fn orders_dependencies_first_and_skips_unpublished_crates() -> Result<()> {
        let packages = [
            package("shoutnet", true, &[("shoutnet-wire", "^0.1.0", None)]),
            package(
                "shoutnet-wire",
                true,
                &[("shoutnet-compress", "^0.1.0", None)],
            ),
            package("shoutnet-compress", true, &[]),
            package("xtask", false, &[]),
            // A dev-dependency may point "up" without creating a cycle.
            package("shoutnet-sim", true, &[("shoutnet", "*", Some("dev"))]),
        ];
        let order: Vec<_> = publish_order(&packages)?
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "shoutnet-compress",
                "shoutnet-sim",
                "shoutnet-wire",
                "shoutnet"
            ]
        );
        Ok(())
    }

    #[test]
    fn reports_cycles() {
        let packages = [
            package("a", true, &[("b", "^0.1.0", None)]),
            package("b", true, &[("a", "^0.1.0", None)]),
        ];
        let err = publish_order(&packages).expect_err("a cycle");
        assert!(err.to_string().contains("cycle"), "{err}");
    }

    #[test]
    fn flags_versionless_and_unpublishable_sibling_dependencies() -> Result<()> {
        let mut packages = vec![
            package("shoutnet-wire", true, &[("shoutnet-compress", "*", None)]),
            package(
                "shoutnet-compress",
                true,
                &[("helper", "^0.1.0", Some("build"))],
            ),
            package("helper", false, &[]),
        ];
        packages[0].description = None;
        let order = publish_order(&packages)?;
        let problems = check_packages(&packages, &order, "0.1.0");
        let expected = [
            "shoutnet-compress depends on helper, which is `publish = false`",
            "shoutnet-wire does not set `description`",
            "shoutnet-wire depends on shoutnet-compress with requirement `*`",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, expected) in problems.iter().zip(expected) {
            assert!(problem.starts_with(expected), "{problem:?} vs {expected:?}");
        }
        Ok(())
    }
}
