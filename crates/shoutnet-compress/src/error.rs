//! Implements docs/PROTOCOL.md §3 "Compression": the ways compressing or
//! decompressing a transmission body can fail.

use crate::Method;

/// Why a compression id, name or body was refused.
///
/// Every variant is small and `Copy`, so a decoder can return it by value and
/// tests can compare it with `==`. Nothing here carries the underlying
/// library's error: the caller (the wire crate) turns any of these into one
/// framing error, and a peer must not be able to tell the libraries apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A compression id that names no method: 6 and 7 are reserved, and the
    /// transmission header has only 3 bits for the id, so 8 and above cannot
    /// come from the wire at all.
    #[error("unknown compression method id {0}")]
    UnknownMethod(u8),
    /// A method name that [`Method::from_str`](std::str::FromStr::from_str)
    /// does not know.
    #[error("unknown compression method name")]
    UnknownName,
    /// Decompressing would produce more than `limit` bytes. Work stopped as
    /// soon as the decoder produced the first byte past the limit.
    #[error("{method} output exceeds the limit of {limit} bytes")]
    OutputLimit {
        /// The method whose decoder was stopped.
        method: Method,
        /// The limit the caller passed to [`decompress`](crate::decompress).
        limit: usize,
    },
    /// The compressed body is malformed: bad magic or header, a truncated
    /// stream, a failed checksum, bytes after the end of the stream, or a
    /// stream that asks for more decoder memory than
    /// [`XZ_MAX_DICT`](crate::XZ_MAX_DICT) allows.
    #[error("{method} data is corrupt")]
    Corrupt {
        /// The method whose decoder refused the data.
        method: Method,
    },
    /// The compressor failed. The compressors used here have no failure mode
    /// on in-memory input, so this is a bug, reported rather than panicking.
    #[error("{method} compressor failed")]
    Encoder {
        /// The method whose encoder failed.
        method: Method,
    },
}

impl Error {
    /// Shorthand for [`Error::Corrupt`].
    pub(crate) const fn corrupt(method: Method) -> Self {
        Self::Corrupt { method }
    }

    /// Shorthand for [`Error::OutputLimit`].
    pub(crate) const fn limit(method: Method, limit: usize) -> Self {
        Self::OutputLimit { method, limit }
    }

    /// Shorthand for [`Error::Encoder`].
    pub(crate) const fn encoder(method: Method) -> Self {
        Self::Encoder { method }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_method_and_limit() {
        let cases = [
            (Error::UnknownMethod(6), "unknown compression method id 6"),
            (Error::UnknownName, "unknown compression method name"),
            (
                Error::limit(Method::Gzip, 1024),
                "gzip output exceeds the limit of 1024 bytes",
            ),
            (Error::corrupt(Method::Lzma), "lzma data is corrupt"),
            (Error::encoder(Method::Bz2), "bz2 compressor failed"),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected);
        }
    }
}
