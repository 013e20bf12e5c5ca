//! Implements docs/PROTOCOL.md §3 "Compression": the method ids of the
//! transmission header and sets of them, as negotiated in §9.3.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A compression method, by its id in the transmission header (`byte1 & 0x07`).
///
/// Ids 6 and 7 are reserved; [`Method::from_id`] refuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Method {
    /// The body as is.
    None = 0,
    /// One complete bzip2 stream, as Python's `bz2.compress`.
    Bz2 = 1,
    /// One RFC 1952 gzip member, as Python's `gzip.compress`.
    Gzip = 2,
    /// One `.xz` stream, as Python's `lzma.compress` (`FORMAT_XZ`).
    Lzma = 3,
    /// One RFC 1950 zlib stream, as Python's `zlib.compress`.
    Zlib = 4,
    /// The snappy raw block format (not the framing format).
    Snappy = 5,
}

/// A set of methods, as a bitmask where bit `i` stands for the method with
/// id `i`.
///
/// [`Method::None`] is always acceptable on the wire, but a set holds it (or
/// not) explicitly like any other method, so that "the methods a peer listed"
/// can be represented exactly. Bits 6 and 7 (the reserved ids) are never set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MethodSet(u8);

impl Method {
    /// Every method, in ascending id order.
    pub const ALL: [Self; 6] = [
        Self::None,
        Self::Bz2,
        Self::Gzip,
        Self::Lzma,
        Self::Zlib,
        Self::Snappy,
    ];

    /// The method with wire id `id`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMethod`] for the reserved ids 6 and 7 and for anything
    /// above 7.
    pub fn from_id(id: u8) -> Result<Self, Error> {
        match id {
            0 => Ok(Self::None),
            1 => Ok(Self::Bz2),
            2 => Ok(Self::Gzip),
            3 => Ok(Self::Lzma),
            4 => Ok(Self::Zlib),
            5 => Ok(Self::Snappy),
            _ => Err(Error::UnknownMethod(id)),
        }
    }

    /// The wire id, `0..=5`.
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// The method's name: `"none"`, `"bz2"`, `"gzip"`, `"lzma"`, `"zlib"` or
    /// `"snappy"`, as the protocol table and Python's module names spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bz2 => "bz2",
            Self::Gzip => "gzip",
            Self::Lzma => "lzma",
            Self::Zlib => "zlib",
            Self::Snappy => "snappy",
        }
    }

    /// This method's bit in a [`MethodSet`].
    const fn bit(self) -> u8 {
        1 << self.id()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    /// Parses a name exactly as [`Method::name`] writes it (lower case).
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|method| method.name() == s)
            .ok_or(Error::UnknownName)
    }
}

impl MethodSet {
    /// The bits that stand for a method; 6 and 7 are the reserved ids.
    const VALID_BITS: u8 = 0b0011_1111;

    /// No method at all.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// All six methods.
    pub const fn all() -> Self {
        Self(Self::VALID_BITS)
    }

    /// Only [`Method::None`]: what a node that compresses nothing offers.
    pub const fn only_none() -> Self {
        Self(Method::None.bit())
    }

    /// Whether `m` is in the set.
    pub fn contains(self, m: Method) -> bool {
        self.0 & m.bit() != 0
    }

    /// Adds `m`.
    pub fn insert(&mut self, m: Method) {
        self.0 |= m.bit();
    }

    /// Removes `m`.
    pub fn remove(&mut self, m: Method) {
        self.0 &= !m.bit();
    }

    /// The set with `m` added, for building sets in one expression
    /// (constants included).
    #[must_use]
    pub const fn with(self, m: Method) -> Self {
        Self(self.0 | m.bit())
    }

    /// The methods in the set, in ascending id order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |&m| self.contains(m))
    }

    /// The bitmask: bit `i` set when the method with id `i` is in the set.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set whose bitmask is `bits`, ignoring bits 6 and 7 (reserved ids).
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & Self::VALID_BITS)
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        iter.into_iter().fold(Self::empty(), Self::with)
    }
}

impl Extend<Method> for MethodSet {
    fn extend<I: IntoIterator<Item = Method>>(&mut self, iter: I) {
        for m in iter {
            self.insert(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_the_protocol_table() {
        let table = [
            (0, Method::None, "none"),
            (1, Method::Bz2, "bz2"),
            (2, Method::Gzip, "gzip"),
            (3, Method::Lzma, "lzma"),
            (4, Method::Zlib, "zlib"),
            (5, Method::Snappy, "snappy"),
        ];
        for (id, method, name) in table {
            assert_eq!(Method::from_id(id), Ok(method));
            assert_eq!(method.id(), id);
            assert_eq!(method.name(), name);
            assert_eq!(method.to_string(), name);
            assert_eq!(name.parse::<Method>(), Ok(method));
        }
        assert_eq!(Method::ALL.map(Method::id), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn reserved_and_out_of_range_ids_are_unknown() {
        for id in [6, 7, 8, 0x80, 255] {
            assert_eq!(Method::from_id(id), Err(Error::UnknownMethod(id)));
        }
    }

    #[test]
    fn names_are_exact() {
        for name in [
            "",
            "GZIP",
            "Gzip",
            " gzip",
            "xz",
            "deflate",
            "snappy-framed",
        ] {
            assert_eq!(name.parse::<Method>(), Err(Error::UnknownName), "{name:?}");
        }
    }

    #[test]
    fn set_constructors() {
        assert_eq!(MethodSet::empty().bits(), 0);
        assert_eq!(MethodSet::all().bits(), 0b0011_1111);
        assert_eq!(MethodSet::only_none().bits(), 0b0000_0001);
        assert_eq!(MethodSet::default(), MethodSet::empty());
        assert!(MethodSet::only_none().contains(Method::None));
        assert!(!MethodSet::empty().contains(Method::None));
        assert_eq!(MethodSet::all().iter().collect::<Vec<_>>(), Method::ALL);
    }

    #[test]
    fn set_insert_remove_with() {
        let mut set = MethodSet::empty();
        set.insert(Method::Snappy);
        set.insert(Method::Bz2);
        set.insert(Method::Bz2);
        assert_eq!(set.bits(), 0b0010_0010);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Method::Bz2, Method::Snappy]
        );
        set.remove(Method::Bz2);
        set.remove(Method::Lzma);
        assert_eq!(set.bits(), 0b0010_0000);
        let built = MethodSet::only_none().with(Method::Zlib).with(Method::Gzip);
        assert_eq!(
            built.iter().collect::<Vec<_>>(),
            [Method::None, Method::Gzip, Method::Zlib]
        );
    }

    #[test]
    fn set_from_bits_ignores_reserved_bits() {
        assert_eq!(MethodSet::from_bits(0xff), MethodSet::all());
        assert_eq!(MethodSet::from_bits(0b1100_0000), MethodSet::empty());
        assert_eq!(MethodSet::from_bits(0b1000_1001).bits(), 0b0000_1001);
        for bits in 0..=u8::MAX {
            let set = MethodSet::from_bits(bits);
            assert_eq!(set.iter().collect::<MethodSet>(), set);
            assert_eq!(MethodSet::from_bits(set.bits()), set);
        }
    }

    #[test]
    fn set_collects_and_extends() {
        let set: MethodSet = [Method::Lzma, Method::None, Method::Lzma]
            .into_iter()
            .collect();
        assert_eq!(set.bits(), 0b0000_1001);
        let mut more = set;
        more.extend([Method::Snappy]);
        assert_eq!(more.bits(), 0b0010_1001);
    }
}
