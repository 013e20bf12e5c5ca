//! Runs the `shoutnet` binary over the committed test vectors of
//! docs/PROTOCOL.md §13: decode prints each valid vector's messages, encode
//! writes its bytes, and invalid vectors are refused with their error. (The
//! vectors are generated, and checked to be current, by `cargo xtask
//! vectors`.) Also runs the key file commands, `shoutnet keygen` and
//! `shoutnet key show` (§2).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value as Json;

const PROFILES: [&str; 2] = ["ed25519", "rsa2048"];

/// Annotations of a vector's messages (§13) that `wire decode` does not
/// print and `wire encode` ignores.
const ANNOTATIONS: [&str; 1] = ["plaintext"];

/// The invalid vectors whose error is a crypto failure (§10): they frame and
/// decode, and `wire decode`, which does no cryptography, accepts them.
const CRYPTO_ERRORS: [&str; 2] = ["BAD_SIGNATURE", "DECRYPT_FAILED"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vectors_dir() -> PathBuf {
    root().join("docs/vectors")
}

/// `shoutnet wire decode --profile PROFILE FILE`.
fn decode_file(profile: &str, file: &Path) -> Output {
    shoutnet(
        &[
            "wire",
            "decode",
            "--profile",
            profile,
            file.to_str().unwrap(),
        ],
        b"",
    )
}

/// Runs `shoutnet` with `args` in the workspace root, feeding it `stdin`.
fn shoutnet(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoutnet"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running shoutnet");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("writing stdin");
    child.wait_with_output().expect("waiting for shoutnet")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8 output")
}

/// The `.hex` files of a vector directory, sorted.
fn hex_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "hex"))
        .collect();
    files.sort();
    files
}

fn read_json(path: &Path) -> Json {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn decode_prints_the_messages_of_every_valid_vector() {
    let mut count = 0;
    for profile in PROFILES {
        for hex in hex_files(&vectors_dir().join(profile)) {
            let vector = read_json(&hex.with_extension("json"));
            let out = decode_file(profile, &hex);
            assert!(
                out.status.success(),
                "{}: {}",
                hex.display(),
                text(&out.stderr)
            );
            // Compare text, not values: the JSON must keep the wire order of
            // map keys, which `serde_json::Value` equality ignores. Decode
            // prints the §13 fields only, not the annotations.
            let expected: Vec<String> = vector["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    let object = m.as_object_mut().expect("a message object");
                    for field in ANNOTATIONS {
                        object.shift_remove(field);
                    }
                    serde_json::to_string(&m).unwrap()
                })
                .collect();
            let printed: Vec<&str> = text(&out.stdout).lines().collect();
            assert_eq!(printed, expected, "{}", hex.display());
            count += 1;
        }
    }
    assert!(count >= 2 * 30, "only {count} valid vectors found");
}

#[test]
fn vectors_with_cryptography_are_annotated() {
    for profile in PROFILES {
        let dir = vectors_dir().join(profile);
        for (name, field) in [
            ("encrypted", "plaintext"),
            ("encrypted_signed", "plaintext"),
        ] {
            let vector = read_json(&dir.join(format!("{name}.json")));
            assert!(
                vector["messages"][0].get(field).is_some(),
                "{profile}/{name} has no {field}"
            );
        }
        let sealed = &read_json(&dir.join("encrypted_signed.json"))["messages"][0];
        assert_eq!(sealed["encrypted"], true);
        assert_eq!(sealed["signed"], true);
    }
}

/// The transmissions a handshake vector's transport messages carry (§9.1,
/// §13.2) are transmissions like any other: `wire decode` of each
/// plaintext prints the vector's messages.
#[test]
fn decode_prints_the_transmissions_of_the_handshake_vectors() {
    for profile in PROFILES {
        let vector = read_json(&vectors_dir().join(profile).join("handshake.json"));
        let transport = vector["transport"].as_array().expect("transport");
        assert_eq!(transport.len(), 2, "{profile}: one each way");
        for t in transport {
            let plaintext = t["plaintext"].as_str().expect("plaintext hex");
            let out = shoutnet(
                &["wire", "decode", "--profile", profile],
                plaintext.as_bytes(),
            );
            assert!(out.status.success(), "{profile}: {}", text(&out.stderr));
            let expected: Vec<String> = t["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| serde_json::to_string(m).unwrap())
                .collect();
            let printed: Vec<&str> = text(&out.stdout).lines().collect();
            assert_eq!(printed, expected, "{profile}");
        }
    }
}

#[test]
fn encode_writes_the_bytes_of_every_valid_vector() {
    for profile in PROFILES {
        for hex in hex_files(&vectors_dir().join(profile)) {
            let json = hex.with_extension("json");
            let out = shoutnet(&["wire", "encode", json.to_str().unwrap()], b"");
            assert!(
                out.status.success(),
                "{}: {}",
                json.display(),
                text(&out.stderr)
            );
            let expected = fs::read_to_string(&hex).unwrap();
            assert_eq!(text(&out.stdout), expected, "{}", json.display());
        }
    }
}

#[test]
fn decode_refuses_every_invalid_vector_with_its_error() {
    let mut count = 0;
    for profile in PROFILES {
        for hex in hex_files(&vectors_dir().join(profile).join("invalid")) {
            let error = read_json(&hex.with_extension("json"))["error"]
                .as_str()
                .expect("an error name")
                .to_owned();
            let out = decode_file(profile, &hex);
            let stderr = text(&out.stderr);
            if CRYPTO_ERRORS.contains(&error.as_str()) {
                assert!(out.status.success(), "{}: {stderr}", hex.display());
                count += 1;
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "{}: {stderr}", hex.display());
            assert!(out.stdout.is_empty(), "{}", hex.display());
            assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", hex.display());
            assert!(
                stderr.starts_with("error: byte ") && stderr.contains(&format!("({error})")),
                "{}: {stderr} should name byte and {error}",
                hex.display()
            );
            count += 1;
        }
    }
    assert!(count >= 2 * 25, "only {count} invalid vectors found");
}

#[test]
fn decode_reads_hex_or_binary_from_stdin() {
    let hex = fs::read_to_string(vectors_dir().join("ed25519/ping_keepalive.hex")).unwrap();
    let bytes = hex_to_bytes(hex.trim());
    let expected = shoutnet(
        &["wire", "decode", "docs/vectors/ed25519/ping_keepalive.hex"],
        b"",
    );
    assert!(expected.status.success());
    for (args, input) in [
        (vec!["wire", "decode"], hex.as_bytes().to_vec()),
        (
            vec!["wire", "decode", "-", "--hex"],
            format!("  {hex}  ").into_bytes(),
        ),
        (vec!["wire", "decode"], bytes.clone()),
        (vec!["wire", "decode", "--binary", "-"], bytes.clone()),
    ] {
        let out = shoutnet(&args, &input);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(out.stdout, expected.stdout, "{args:?}");
    }
    // The profile matters: a 70-byte ed25519 header is no rsa2048 header.
    let out = shoutnet(&["wire", "decode", "--profile", "rsa2048"], hex.as_bytes());
    assert_eq!(out.status.code(), Some(1));
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn pretty_output_and_json_lines_encode_back() {
    let path = "docs/vectors/rsa2048/batch_none.hex";
    let lines = shoutnet(&["wire", "decode", "--profile", "rsa2048", path], b"");
    assert!(lines.status.success());
    let pretty = shoutnet(
        &["wire", "decode", "--profile", "rsa2048", "--pretty", path],
        b"",
    );
    assert!(pretty.status.success());
    assert!(text(&pretty.stdout).lines().count() > text(&lines.stdout).lines().count());
    let expected = fs::read_to_string(root().join(path)).unwrap();
    for input in [&lines.stdout, &pretty.stdout] {
        let out = shoutnet(&["wire", "encode", "--profile", "rsa2048"], input);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), expected);
    }
    // --compression re-encodes the same messages as another vector.
    let zlib = shoutnet(
        &[
            "wire",
            "encode",
            "--profile",
            "rsa2048",
            "--compression",
            "zlib",
        ],
        &lines.stdout,
    );
    let expected = fs::read_to_string(vectors_dir().join("rsa2048/batch_zlib.hex")).unwrap();
    assert_eq!(text(&zlib.stdout), expected);
    // --binary writes the raw bytes.
    let binary = shoutnet(
        &["wire", "encode", "--profile", "rsa2048", "--binary"],
        &lines.stdout,
    );
    assert_eq!(
        binary.stdout,
        hex_to_bytes(fs::read_to_string(root().join(path)).unwrap().trim())
    );
}

#[test]
fn check_schema_names_the_field() {
    let bad = r#"{"from":"0101010101010101010101010101010101010101010101010101010101010101","to":"0202020202020202020202020202020202020202020202020202020202020202","opcode":"FIND_NODE","payload":[1,{"$bin":"00"}]}"#;
    let wire = shoutnet(&["wire", "encode"], bad.as_bytes());
    assert!(wire.status.success(), "{}", text(&wire.stderr));
    let plain = shoutnet(&["wire", "decode"], &wire.stdout);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let checked = shoutnet(&["wire", "decode", "--check-schema"], &wire.stdout);
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(
        text(&checked.stderr),
        "error: byte 76: message 0 (FIND_NODE) breaks its payload schema: FIND_NODE payload \
         field `target` is not bin(32) (Field)\n"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_1() {
    let cases: [(&[&str], &[u8], &str); 4] = [
        (
            &["wire", "decode", "--hex"],
            b"0000zz",
            "error: character 4: 'z' is not a hex digit",
        ),
        (
            &["wire", "decode", "no/such/file"],
            b"",
            "error: reading no/such/file: ",
        ),
        (
            &["wire", "encode"],
            b"{\"opcode\":",
            "error: the input is not valid JSON: ",
        ),
        (
            &["wire", "decode"],
            b"",
            "error: byte 0: truncated at offset 0",
        ),
    ];
    for (args, input, start) in cases {
        let out = shoutnet(args, input);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(start), "{args:?}: {stderr}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["wire", "decode", "--profile", "dsa"][..],
        &["wire", "decode", "--hex", "--binary"],
        &["wire", "encode", "--compression", "zstd"],
        &["wire"],
        &["keygen"],
        &["keygen", "--profile", "dsa", "--out", "x.pem"],
        &["key", "show"],
    ] {
        let out = shoutnet(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// The `key:` and `address:` lines of `keygen` or `key show` output.
fn key_and_address(stdout: &[u8]) -> (String, String) {
    let lines: Vec<&str> = text(stdout).lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let field = |line: &str, name: &str| {
        line.strip_prefix(&format!("{name}: "))
            .unwrap_or_else(|| panic!("{line:?} is not {name}"))
            .to_owned()
    };
    (field(lines[1], "key"), field(lines[2], "address"))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn keygen_writes_a_private_key_file_that_key_show_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.pem");
    let path_arg = path.to_str().unwrap();
    let generated = shoutnet(&["keygen", "--out", path_arg], b"");
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    assert!(text(&generated.stdout).starts_with("profile: ed25519\n"));
    assert_eq!(mode(&path), 0o600);
    assert!(
        fs::read_to_string(&path)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let (key, address) = key_and_address(&generated.stdout);
    assert_eq!(key.len(), 64);
    assert_eq!(address.len(), 64);

    let shown = shoutnet(&["key", "show", path_arg], b"");
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert_eq!(shown.stdout, generated.stdout);
    let json = shoutnet(&["key", "show", "--json", path_arg], b"");
    let doc: Json = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["profile"], "ed25519");
    assert_eq!(doc["key"], key);
    assert_eq!(doc["address"], address);

    // An existing key is never replaced by accident.
    let again = shoutnet(&["keygen", "--out", path_arg], b"");
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    let unchanged = shoutnet(&["key", "show", path_arg], b"");
    assert_eq!(unchanged.stdout, generated.stdout);
    // --force replaces it, and tightens its mode.
    set_mode(&path, 0o644);
    let forced = shoutnet(&["keygen", "--out", path_arg, "--force"], b"");
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_ne!(key_and_address(&forced.stdout).0, key);
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
#[test]
fn key_show_prints_a_fixture_keys_field_and_address() {
    let public = read_json(&root().join("fixtures/keys/public.json"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ed25519-1.pem");
    fs::copy(root().join("fixtures/keys/ed25519-1.pem"), &path).unwrap();
    set_mode(&path, 0o600);
    let out = shoutnet(&["key", "show", path.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("profile: ed25519\n"));
    let (key, address) = key_and_address(&out.stdout);
    assert_eq!(key, public["ed25519-1"].as_str().unwrap());
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(hex_to_bytes(&key)).into();
    let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(address, expected);

    // A copy others may read is refused, with the fix.
    set_mode(&path, 0o644);
    let out = shoutnet(&["key", "show", path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("0644") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn key_show_reads_an_rsa_fixture_and_refuses_what_is_not_a_key() {
    let public = read_json(&root().join("fixtures/keys/public.json"));
    let dir = tempfile::tempdir().unwrap();
    let rsa = dir.path().join("rsa2048-2.pem");
    fs::copy(root().join("fixtures/keys/rsa2048-2.pem"), &rsa).unwrap();
    set_mode(&rsa, 0o600);
    let out = shoutnet(&["key", "show", "--json", rsa.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["profile"], "rsa2048");
    assert_eq!(doc["key"], public["rsa2048-2"]);

    let garbage = dir.path().join("garbage.pem");
    fs::write(&garbage, "not a key").unwrap();
    set_mode(&garbage, 0o600);
    for path in [garbage, dir.path().join("missing.pem")] {
        let out = shoutnet(&["key", "show", path.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: reading "), "{stderr}");
    }
}

#[cfg(unix)]
#[test]
fn key_show_reads_pkcs8_v2_and_refuses_a_mismatched_public_key() {
    let public = read_json(&root().join("fixtures/keys/public.json"));
    let data = root().join("crates/shoutnet-crypto/tests/data");
    let dir = tempfile::tempdir().unwrap();
    // Fixture ed25519-1 as PKCS#8 v2 (RFC 5958), as earlier shoutnet builds
    // wrote it.
    let v2 = dir.path().join("v2.pem");
    fs::copy(data.join("ed25519-1-v2.pem"), &v2).unwrap();
    set_mode(&v2, 0o600);
    let out = shoutnet(&["key", "show", v2.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(key_and_address(&out.stdout).0, public["ed25519-1"]);

    // The same with ed25519-2's public key embedded.
    let bad = dir.path().join("mismatch.pem");
    fs::copy(data.join("ed25519-1-v2-mismatch.pem"), &bad).unwrap();
    set_mode(&bad, 0o600);
    let out = shoutnet(&["key", "show", bad.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: reading ") && stderr.contains("embedded public key"),
        "{stderr}"
    );
}

/// The one test in this file that generates an RSA key (slow unoptimised;
/// tests/openssl.rs makes another).
#[cfg(unix)]
#[test]
fn keygen_rsa2048_warns_about_rustsec_2023_0071() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rsa.pem");
    let out = shoutnet(
        &[
            "keygen",
            "--profile",
            "rsa2048",
            "--out",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("generating a 2048-bit RSA key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("RUSTSEC-2023-0071") && stderr.contains("prefer ed25519"),
        "{stderr}"
    );
    assert!(text(&out.stdout).starts_with("profile: rsa2048\n"));
    let (key, _) = key_and_address(&out.stdout);
    assert_eq!(key.len(), 2 * 270);
    assert_eq!(mode(&path), 0o600);
}
