//! Key files: a node's private key as PKCS#8 PEM on disk (docs/PROTOCOL.md
//! §2 profiles). The only module of this crate that does IO.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::{Error, Keypair};

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
    Ok(Keypair::from_pkcs8_pem(&pem)?)
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

    const ED25519: &str = include_str!("../../../fixtures/keys/ed25519-1.pem");
    const RSA: &str = include_str!("../../../fixtures/keys/rsa2048-1.pem");

    #[test]
    fn save_load_round_trip_both_profiles() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [("ed", ED25519), ("rsa", RSA)] {
            let keypair = Keypair::from_pkcs8_pem(pem).unwrap();
            let path = dir.path().join(name);
            save(&path, &keypair).unwrap();
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
}
