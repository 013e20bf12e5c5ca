//! Key files: a node's private key as PKCS#8 PEM on disk (docs/PROTOCOL.md
//! §2 profiles), and the format they are written in. The only module of this
//! crate that does IO.
//!
//! **Written:** PEM label `PRIVATE KEY` around PKCS#8 *version 1* (RFC 5208
//! `PrivateKeyInfo`: version 0, no embedded public key), the form `openssl
//! genpkey` writes and OpenSSL 3 and Python's `cryptography` read:
//!
//! - `ed25519`: the 48 bytes `30 2e 02 01 00 30 05 06 03 2b 65 70 04 22 04
//!   20` ‖ the 32-byte seed (algorithm id-Ed25519 1.3.101.112 without
//!   parameters, private key `CurvePrivateKey` of RFC 8410);
//! - `rsa2048`: algorithm rsaEncryption 1.2.840.113549.1.1.1 with NULL
//!   parameters, private key the two-prime PKCS#1 `RSAPrivateKey` DER.
//!
//! **Read:** version 1, and version 2 (RFC 5958 `OneAsymmetricKey`, as
//! earlier shoutnet builds wrote Ed25519 keys), whose `[1]` public key,
//! present exactly when the version is 2 (RFC 5958 §2), must be the key's
//! key field (§2: the raw Ed25519 key, or the PKCS#1 `RSAPublicKey` DER),
//! else [`Error::EmbeddedPublicKeyMismatch`].

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{ALGORITHM_ID, ALGORITHM_OID, PrivateKeyInfo, SecretDocument};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use zeroize::Zeroizing;

use crate::key::check_rsa_parameters;
use crate::keypair::Secret;
use crate::{Error, Keypair};

/// The PEM label of a PKCS#8 private key (RFC 7468 §10), the only one read
/// or written.
const PEM_LABEL: &str = "PRIVATE KEY";

/// The DER header of an Ed25519 `CurvePrivateKey` (RFC 8410 §7): an OCTET
/// STRING of 32 bytes.
const ED25519_SEED_HEADER: [u8; 2] = [0x04, 0x20];

/// What can go wrong reading or writing a key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be created, written or read (for example
    /// `AlreadyExists` from [`save`]).
    #[error("key file IO failed: {0}")]
    Io(io::ErrorKind),
    /// The file is readable or writable by group or others (the mode's low
    /// bits are shown); like ssh, [`load`] refuses it. `chmod 600` fixes it.
    #[error("key file permissions {0:o} are too open (expected 600)")]
    InsecurePermissions(u32),
    /// The file is not a usable private key.
    #[error(transparent)]
    Key(#[from] Error),
}

impl From<io::Error> for KeyFileError {
    fn from(err: io::Error) -> Self {
        Self::Io(err.kind())
    }
}

/// Writes `keypair` to a new file at `path` as PKCS#8 PEM, readable and
/// writable only by its owner (mode 0600 on Unix). Fails with
/// `Io(AlreadyExists)` if the file exists: a key is never overwritten by
/// accident. Use [`save_overwrite`] to replace one.
pub fn save(path: &Path, keypair: &Keypair) -> Result<(), KeyFileError> {
    write(path, keypair, false)
}

/// Like [`save`], but replaces an existing file (and sets its mode to 0600
/// before writing the key into it).
pub fn save_overwrite(path: &Path, keypair: &Keypair) -> Result<(), KeyFileError> {
    write(path, keypair, true)
}

/// Reads a PKCS#8 PEM key pair from `path`. On Unix a file that group or
/// others may access is refused with
/// [`InsecurePermissions`](KeyFileError::InsecurePermissions).
pub fn load(path: &Path) -> Result<Keypair, KeyFileError> {
    let file = fs::File::open(path)?;
    check_permissions(&file.metadata()?)?;
    let mut pem = Zeroizing::new(String::new());
    io::Read::read_to_string(&mut &file, &mut pem)?;
    Ok(decode_pem(&pem)?)
}

/// Encodes a private key as PKCS#8 v1 PEM (see the module documentation).
pub(crate) fn encode_pem(secret: &Secret) -> Result<Zeroizing<String>, Error> {
    match secret {
        Secret::Ed25519(key) => {
            let mut private_key = Zeroizing::new(Vec::with_capacity(34));
            private_key.extend_from_slice(&ED25519_SEED_HEADER);
            private_key.extend_from_slice(key.as_bytes());
            // `PrivateKeyInfo::new` leaves out the public key: version 1.
            let info = PrivateKeyInfo::new(ALGORITHM_ID, &private_key);
            SecretDocument::encode_msg(&info)
                .and_then(|der| der.to_pem(PEM_LABEL, LineEnding::LF))
                .map_err(|_| Error::MalformedPrivateKey)
        }
        // The `rsa` crate writes version 1, byte for byte as `openssl
        // genpkey` does.
        Secret::Rsa(key) => key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| Error::MalformedPrivateKey),
    }
}

/// Decodes a PKCS#8 v1 or v2 PEM private key (see the module
/// documentation).
pub(crate) fn decode_pem(pem: &str) -> Result<Keypair, Error> {
    let (label, der) = SecretDocument::from_pem(pem).map_err(|_| Error::MalformedPrivateKey)?;
    if label != PEM_LABEL {
        return Err(Error::MalformedPrivateKey);
    }
    // Also checks that the version is 2 exactly when a public key is present.
    let info = PrivateKeyInfo::try_from(der.as_bytes()).map_err(|_| Error::MalformedPrivateKey)?;
    let embedded = info.public_key;
    let secret = if info.algorithm.oid == ALGORITHM_OID {
        if info.algorithm.parameters.is_some() {
            return Err(Error::MalformedPrivateKey);
        }
        let seed = info
            .private_key
            .strip_prefix(&ED25519_SEED_HEADER)
            .and_then(|seed| <&[u8; 32]>::try_from(seed).ok())
            .ok_or(Error::MalformedPrivateKey)?;
        Secret::Ed25519(Box::new(SigningKey::from_bytes(seed)))
    } else {
        // Checks the rsaEncryption algorithm identifier.
        let key = RsaPrivateKey::try_from(info).map_err(|_| Error::MalformedPrivateKey)?;
        check_rsa_parameters(&key)?;
        key.validate().map_err(|_| Error::MalformedPrivateKey)?;
        Secret::Rsa(Box::new(key))
    };
    let keypair = Keypair::from_secret(secret)?;
    match embedded {
        Some(public) if public != keypair.public().key_field() => {
            Err(Error::EmbeddedPublicKeyMismatch)
        }
        _ => Ok(keypair),
    }
}

fn write(path: &Path, keypair: &Keypair, overwrite: bool) -> Result<(), KeyFileError> {
    let pem = keypair.to_pkcs8_pem()?;
    let mut options = OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // `mode` applies only to files it creates; an overwritten file keeps
        // its old mode unless set here, before the key goes in.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(unix)]
fn check_permissions(metadata: &fs::Metadata) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::InsecurePermissions(mode));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_metadata: &fs::Metadata) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use rsa::pkcs8::der::pem;

    /// Made by `openssl genpkey`: PKCS#8 v1.
    const ED25519: &str = include_str!("../../../fixtures/keys/ed25519-1.pem");
    const RSA: &str = include_str!("../../../fixtures/keys/rsa2048-1.pem");
    /// `ED25519` as PKCS#8 v2, with its public key, as earlier shoutnet
    /// builds wrote it.
    const ED25519_V2: &str = include_str!("../tests/data/ed25519-1-v2.pem");
    /// `ED25519_V2` with the public key of fixture `ed25519-2` instead.
    const ED25519_V2_MISMATCH: &str = include_str!("../tests/data/ed25519-1-v2-mismatch.pem");

    /// Fixture `ed25519-1`'s seed and public key.
    const SEED: &str = "3b240814ad17feb90866c3e55c984f24d673b3bc65e8fe793246e2e29515187b";
    const PUBLIC: &str = "70020ffd9004bf2934473bc667832f347c58836b6e99dfd72396c886a274d3ab";

    fn pem_of(der_hex: &str) -> String {
        let der = hex::decode(der_hex).unwrap();
        pem::encode_string(PEM_LABEL, LineEnding::LF, &der).unwrap()
    }

    fn der_of(pem_text: &str) -> Vec<u8> {
        pem::decode_vec(pem_text.as_bytes()).unwrap().1
    }

    #[test]
    fn save_load_round_trip_both_profiles() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [("ed", ED25519), ("rsa", RSA)] {
            let keypair = Keypair::from_pkcs8_pem(pem).unwrap();
            let path = dir.path().join(name);
            save(&path, &keypair).unwrap();
            // PKCS#8 v1, byte for byte as `openssl genpkey` wrote the fixture.
            assert_eq!(fs::read_to_string(&path).unwrap(), pem);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
            let loaded = load(&path).unwrap();
            assert_eq!(loaded.public(), keypair.public());
            assert_eq!(
                save(&path, &keypair),
                Err(KeyFileError::Io(io::ErrorKind::AlreadyExists))
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_open_permissions_and_overwrite_tightens_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        fs::write(&path, ED25519).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            load(&path).unwrap_err(),
            KeyFileError::InsecurePermissions(0o644)
        );
        let keypair = Keypair::from_pkcs8_pem(RSA).unwrap();
        save_overwrite(&path, &keypair).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load(&path).unwrap().public(), keypair.public());
    }

    #[test]
    fn load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(
            load(&missing).unwrap_err(),
            KeyFileError::Io(io::ErrorKind::NotFound)
        );
        let garbage = dir.path().join("garbage");
        fs::write(&garbage, "not a key").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&garbage, fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(
            load(&garbage).unwrap_err(),
            KeyFileError::Key(Error::MalformedPrivateKey)
        );
    }

    #[test]
    fn ed25519_is_written_as_pkcs8_v1() {
        let keypair = Keypair::from_pkcs8_pem(ED25519_V2).unwrap();
        let pem_text = keypair.to_pkcs8_pem().unwrap();
        assert_eq!(pem_text.as_str(), ED25519);
        // version 0, id-Ed25519 without parameters, the seed; nothing else.
        assert_eq!(
            hex::encode(der_of(&pem_text)),
            format!("302e020100300506032b657004220420{SEED}")
        );
    }

    #[test]
    fn reads_pkcs8_v2_and_checks_its_public_key() {
        // The committed v2 file is what ed25519-dalek's own encoder writes.
        let signing = SigningKey::from_bytes(&hex::decode(SEED).unwrap().try_into().unwrap());
        let dalek = signing.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(dalek.as_str(), ED25519_V2);
        assert_eq!(
            hex::encode(der_of(ED25519_V2)),
            format!("3051020101300506032b657004220420{SEED}812100{PUBLIC}")
        );

        let v1 = Keypair::from_pkcs8_pem(ED25519).unwrap();
        let v2 = Keypair::from_pkcs8_pem(ED25519_V2).unwrap();
        assert_eq!(v2.public(), v1.public());
        assert_eq!(hex::encode(v2.public().key_field()), PUBLIC);
        assert_eq!(
            Keypair::from_pkcs8_pem(ED25519_V2_MISMATCH).unwrap_err(),
            Error::EmbeddedPublicKeyMismatch
        );

        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("v2.pem", ED25519_V2), ("bad.pem", ED25519_V2_MISMATCH)] {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
        assert_eq!(
            load(&dir.path().join("v2.pem")).unwrap().public(),
            v1.public()
        );
        assert_eq!(
            load(&dir.path().join("bad.pem")).unwrap_err(),
            KeyFileError::Key(Error::EmbeddedPublicKeyMismatch)
        );
        // Saving a key read from a v2 file writes v1.
        let path = dir.path().join("v1.pem");
        save(&path, &v2).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), ED25519);
    }

    #[test]
    fn rsa_pkcs8_v2_public_key_is_checked_too() {
        let der = der_of(RSA);
        let v1 = PrivateKeyInfo::try_from(der.as_slice()).unwrap();
        let keypair = Keypair::from_pkcs8_pem(RSA).unwrap();
        let other =
            Keypair::from_pkcs8_pem(include_str!("../../../fixtures/keys/rsa2048-2.pem")).unwrap();
        for (public, expected) in [
            (keypair.public(), Ok(keypair.public().clone())),
            (other.public(), Err(Error::EmbeddedPublicKeyMismatch)),
        ] {
            let v2 = PrivateKeyInfo {
                public_key: Some(public.key_field()),
                ..v1.clone()
            };
            let pem_text = SecretDocument::encode_msg(&v2)
                .unwrap()
                .to_pem(PEM_LABEL, LineEnding::LF)
                .unwrap();
            let got = Keypair::from_pkcs8_pem(&pem_text).map(|k| k.public().clone());
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn refuses_malformed_pkcs8() {
        let cases = [
            // Version 0 (v1) with a public key.
            format!("3051020100300506032b657004220420{SEED}812100{PUBLIC}"),
            // Version 1 (v2) without one.
            format!("302e020101300506032b657004220420{SEED}"),
            // Version 2 does not exist.
            format!("302e020102300506032b657004220420{SEED}"),
            // id-Ed25519 with NULL parameters.
            format!("3030020100300706032b6570050004220420{SEED}"),
            // A 31-byte seed.
            format!("302d020100300506032b657004210420{}", &SEED[2..]),
            // The seed not wrapped in its own OCTET STRING.
            format!("302c020100300506032b65700420{SEED}"),
            // X25519 (1.3.101.110), not an Ed25519 key.
            format!("302e020100300506032b656e04220420{SEED}"),
            // A public key BIT STRING with unused bits.
            format!("3051020101300506032b657004220420{SEED}812101{PUBLIC}"),
        ];
        for der_hex in cases {
            assert_eq!(
                Keypair::from_pkcs8_pem(&pem_of(&der_hex)).unwrap_err(),
                Error::MalformedPrivateKey,
                "{der_hex}"
            );
        }
        // Only the label `PRIVATE KEY` is read.
        let der = der_of(ED25519);
        let other_label = pem::encode_string("ED25519 PRIVATE KEY", LineEnding::LF, &der).unwrap();
        assert_eq!(
            Keypair::from_pkcs8_pem(&other_label).unwrap_err(),
            Error::MalformedPrivateKey
        );
        assert!(Keypair::from_pkcs8_pem(&pem_of(&hex::encode(&der))).is_ok());
        // A public key of the wrong length is not the key either.
        assert_eq!(
            Keypair::from_pkcs8_pem(&pem_of(&format!(
                "3050020101300506032b657004220420{SEED}812000{}",
                &PUBLIC[2..]
            )))
            .unwrap_err(),
            Error::EmbeddedPublicKeyMismatch
        );
    }
}
