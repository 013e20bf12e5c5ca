//! The key files `shoutnet keygen` writes (a private key of a docs/PROTOCOL.md
//! §2 profile, as PKCS#8 v1 PEM: crates/shoutnet-crypto/README.md) are read
//! by OpenSSL: `openssl pkey` accepts each profile's file, writes it back
//! unchanged, and derives the public key `shoutnet key show` prints.
//!
//! Without `openssl` on PATH the test says so on stderr and passes, except
//! under CI (`$CI` set), where it fails: `.ci/run` installs `openssl`.
//! (Python's `cryptography` reads the same files in `cargo xtask ci`'s
//! `keyfile interop` step, tools/interop/check_keyfiles.py.)

#![cfg(unix)]

use std::env;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as Json;

/// The DER `SubjectPublicKeyInfo` of a key, up to the key field (§2), which
/// is the rest: the raw Ed25519 key, or the PKCS#1 `RSAPublicKey` DER.
const SPKI_PREFIXES: [(&str, &str); 2] = [
    // SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING (33 bytes) }
    ("ed25519", "302a300506032b6570032100"),
    // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING (271 bytes) }
    (
        "rsa2048",
        "30820122300d06092a864886f70d01010105000382010f00",
    ),
];

fn shoutnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shoutnet"))
        .args(args)
        .output()
        .expect("running shoutnet")
}

/// Runs `openssl` with `args`, shown as typed, and requires success.
fn openssl(args: &[&str]) -> Vec<u8> {
    let shown = format!("openssl {}", args.join(" "));
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("$ {shown}: ok, {} bytes", out.stdout.len());
    out.stdout
}

/// The `openssl version` line, or `None` if there is no usable `openssl`.
fn openssl_version() -> Option<String> {
    let out = Command::new("openssl").arg("version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `shoutnet keygen --profile PROFILE --out PATH`, then the key `shoutnet
/// key show --json PATH` prints, in hex.
fn keygen(profile: &str, path: &Path) -> String {
    let path = path.to_str().unwrap();
    let generated = shoutnet(&["keygen", "--profile", profile, "--out", path]);
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let shown = shoutnet(&["key", "show", "--json", path]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let doc: Json = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(doc["profile"], profile);
    doc["key"].as_str().unwrap().to_owned()
}

#[test]
fn openssl_reads_keygen_files_of_both_profiles() {
    let Some(version) = openssl_version() else {
        assert!(
            env::var_os("CI").is_none(),
            "`openssl` is not installed, and CI must run this test: \
             .ci/run installs it (apt-get install openssl)"
        );
        // Straight to stderr, past libtest's capture, so that the skip shows.
        writeln!(
            io::stderr(),
            "SKIPPED openssl_reads_keygen_files_of_both_profiles: `openssl` is not on \
             PATH, so OpenSSL's reading of key files is not checked (install openssl)"
        )
        .unwrap();
        return;
    };
    eprintln!("{version}");
    let dir = tempfile::tempdir().unwrap();
    for (profile, spki_prefix) in SPKI_PREFIXES {
        let path = dir.path().join(format!("{profile}.pem"));
        let key = keygen(profile, &path);
        let file = path.to_str().unwrap();

        let text = openssl(&["pkey", "-in", file, "-noout", "-text"]);
        let text = String::from_utf8(text).unwrap();
        let title = match profile {
            "ed25519" => "ED25519 Private-Key:",
            _ => "Private-Key: (2048 bit, 2 primes)",
        };
        assert!(text.starts_with(title), "{profile}: {text}");

        let spki = openssl(&["pkey", "-in", file, "-pubout", "-outform", "DER"]);
        assert_eq!(hex(&spki), format!("{spki_prefix}{key}"), "{profile}");
        eprintln!("{profile}: openssl's public key is key show's: {key:.16}…");

        // OpenSSL writes the key back byte for byte: the same PKCS#8 v1.
        let again = openssl(&["pkey", "-in", file]);
        assert_eq!(
            String::from_utf8(again).unwrap(),
            fs::read_to_string(&path).unwrap(),
            "{profile}"
        );
    }
}
