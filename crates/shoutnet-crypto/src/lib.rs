//! Key profiles, addresses, signatures, hybrid encryption and the channel
//! binding of the shoutnet protocol (docs/PROTOCOL.md §2 and §5.2–§5.5).
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod address;
mod binding;
mod encrypt;
mod error;
pub mod fuzzing;
mod key;
pub mod keyfile;
mod keypair;
mod sign;

pub use address::{Address, Distance};
pub use binding::{BINDING_CONTEXT, binding_data, sign_binding, verify_binding};
pub use encrypt::{
    ED25519_OVERHEAD, RSA2048_OVERHEAD, decrypt_message, decrypt_message_ref, encrypt,
    encrypt_message, overhead, seal_message,
};
pub use error::Error;
pub use key::PublicKey;
pub use keyfile::KeyFileError;
pub use keypair::Keypair;
pub use shoutnet_wire::Profile;
pub use sign::{sign_message, verify_message, verify_message_ref};
