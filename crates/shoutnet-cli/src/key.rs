//! `shoutnet keygen` and `shoutnet key show`: a node's key file, the PKCS#8
//! PEM private key of one of the key profiles of docs/PROTOCOL.md §2, with
//! its key field and routing address (SHA-256 of the key field).
//!
//! Key files are written as PKCS#8 v1 (what `openssl genpkey` writes, so
//! OpenSSL and Python's `cryptography` read them) with mode 0600. Both v1
//! and v2 (RFC 5958) are read, and a file that group or others may read is
//! refused, as `shoutnet-crypto`'s `keyfile` does (its README, "Key files").

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use clap::Args;
use rand_core::OsRng;
use serde_json::json;
use shoutnet_crypto::{KeyFileError, Keypair, Profile, keyfile};
use shoutnet_wire::json::hex;

use crate::wire::ProfileArg;

/// Arguments of `shoutnet keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Key profile (docs/PROTOCOL.md §2). Prefer ed25519: rsa2048 exists to
    /// interoperate with the seed's profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Ed25519)]
    profile: ProfileArg,
    /// File to write the private key to, as PKCS#8 v1 PEM (as `openssl
    /// genpkey` writes it) with mode 0600.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace FILE if it exists (its mode is set to 0600 first).
    #[arg(long)]
    force: bool,
    /// Print the profile, key field and address as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `shoutnet key show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The key file: a PKCS#8 (v1 or v2) PEM private key that only its owner
    /// may read.
    file: PathBuf,
    /// Print the profile, key field and address as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `shoutnet keygen`: generates a key pair with the operating system's
/// randomness, writes it, and prints what `key show` would.
pub(crate) fn keygen(args: &KeygenArgs) -> Result<()> {
    let profile = Profile::from(args.profile);
    if profile == Profile::Rsa2048 {
        eprintln!("generating a 2048-bit RSA key (a few seconds in debug builds)…");
        eprintln!(
            "warning: rsa2048 private-key operations are not constant-time \
             (RUSTSEC-2023-0071, \"Marvin\"); prefer ed25519 unless you need the seed's profile"
        );
    }
    let keypair = Keypair::generate(profile, &mut OsRng)
        .map_err(|e| anyhow!("generating a {profile} key: {e}"))?;
    let path = &args.out;
    let saved = if args.force {
        keyfile::save_overwrite(path, &keypair)
    } else {
        keyfile::save(path, &keypair)
    };
    saved.map_err(|e| match e {
        KeyFileError::Io(io::ErrorKind::AlreadyExists) => anyhow!(
            "{} already exists; pass --force to replace it",
            path.display()
        ),
        e => anyhow!("writing {}: {e}", path.display()),
    })?;
    print_key(&keypair, args.json)
}

/// Runs `shoutnet key show`.
pub(crate) fn show(args: &ShowArgs) -> Result<()> {
    let keypair = load(&args.file)?;
    print_key(&keypair, args.json)
}

/// Loads a key file, with errors that say how to fix them.
fn load(path: &Path) -> Result<Keypair> {
    keyfile::load(path).map_err(|e| match e {
        KeyFileError::InsecurePermissions(mode) => anyhow!(
            "{} has mode {mode:04o}, so group or others may read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        ),
        KeyFileError::Io(io::ErrorKind::NotFound) => {
            anyhow!("reading {}: no such file", path.display())
        }
        e => anyhow!("reading {}: {e}", path.display()),
    })
}

/// Prints `profile: ...`, `key: <hex key field>` and `address: <hex routing
/// address>`, one per line, or the same as one JSON object.
fn print_key(keypair: &Keypair, as_json: bool) -> Result<()> {
    let public = keypair.public();
    let profile = public.profile().name();
    let key = hex(public.key_field());
    let address = public.routing_address().to_string();
    let mut out = io::stdout().lock();
    if as_json {
        let doc = json!({"profile": profile, "key": key, "address": address});
        writeln!(out, "{doc}")?;
    } else {
        writeln!(out, "profile: {profile}")?;
        writeln!(out, "key: {key}")?;
        writeln!(out, "address: {address}")?;
    }
    out.flush()?;
    Ok(())
}
