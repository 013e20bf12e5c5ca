//! Implements docs/PROTOCOL.md §3 "Compression".
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

mod bz2;
mod deflate;
mod error;
pub mod fuzzing;
mod limit;
mod method;
mod snappy;
mod xz;

pub use bz2::BZ2_LEVEL;
pub use deflate::DEFLATE_LEVEL;
pub use error::Error;
pub use method::{Method, MethodSet};
pub use xz::{XZ_MAX_DICT, XZ_PRESET};

/// Compresses `input` with `method` into a new `Vec`, in the exact format
/// docs/PROTOCOL.md §3 names for it (see the table in the crate docs).
///
/// The output is deterministic: equal input gives equal output (gzip writes
/// MTIME 0), given the same build features (the `liblzma` feature changes
/// which encoder writes `lzma` streams).
///
/// # Errors
///
/// [`Error::Encoder`] if the compressor fails, which none of them do on
/// in-memory input; the variant exists so that a bug is an error, not a panic.
pub fn compress(method: Method, input: &[u8]) -> Result<Vec<u8>, Error> {
    match method {
        Method::None => Ok(input.to_vec()),
        Method::Bz2 => bz2::compress(input),
        Method::Gzip => deflate::compress_gzip(input),
        Method::Lzma => xz::compress(input),
        Method::Zlib => deflate::compress_zlib(input),
        Method::Snappy => snappy::compress(input),
    }
}

/// Decompresses `input`, which must be exactly one stream of `method`'s
/// format with nothing after it, into at most `limit` bytes.
///
/// Work stops as soon as the decoder produces the first byte past `limit`:
/// no more input is read and no more output is produced. The output buffer
/// grows with the output actually produced and never past `limit`, so
/// whatever the input claims, the memory used is bounded by `limit` and the
/// decoder's state: a 32 KiB stack buffer; for `bz2` up to 3.6 MB of block
/// memory, as the stream header asks; for `lzma` the LZMA2 window, which
/// grows with the output (up to twice the output, and never past the
/// declared dictionary of at most [`XZ_MAX_DICT`]).
///
/// # Errors
///
/// - [`Error::OutputLimit`] if the output would be longer than `limit`. For
///   `none` that is an input longer than `limit`; for `snappy`, a declared
///   length over `limit`, and for `lzma`, LZMA2 chunk headers declaring more
///   than `limit` in all, both found before anything is allocated.
/// - [`Error::Corrupt`] if `input` is not exactly one valid stream: a bad
///   header, truncation, a failed checksum, trailing bytes (including a
///   second stream or xz stream padding), an xz dictionary over
///   [`XZ_MAX_DICT`], or an xz stream with more than 16 blocks plus one per
///   KiB of output (each block costs the decoder memory until the end of the
///   stream, whatever it decodes to).
///
/// # Examples
///
/// ```
/// use shoutnet_compress::{decompress, Error, Method};
///
/// // 16 MiB of zeros compresses to a few kilobytes...
/// let bomb = shoutnet_compress::compress(Method::Zlib, &vec![0; 16 << 20])?;
/// assert!(bomb.len() < 32 << 10);
/// // ...and is refused after producing one byte past a 1 MiB limit.
/// assert_eq!(
///     decompress(Method::Zlib, &bomb, 1 << 20),
///     Err(Error::OutputLimit { method: Method::Zlib, limit: 1 << 20 }),
/// );
/// # Ok::<(), Error>(())
/// ```
pub fn decompress(method: Method, input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    match method {
        Method::None if input.len() > limit => Err(Error::limit(method, limit)),
        Method::None => Ok(input.to_vec()),
        Method::Bz2 => bz2::decompress(input, limit),
        Method::Gzip => deflate::decompress_gzip(input, limit),
        Method::Lzma => xz::decompress(input, limit),
        Method::Zlib => deflate::decompress_zlib(input, limit),
        Method::Snappy => snappy::decompress(input, limit),
    }
}
