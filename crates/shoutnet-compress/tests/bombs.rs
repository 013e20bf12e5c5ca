//! Implements docs/PROTOCOL.md §3 "Compression": the output limit against
//! decompression bombs. A receiver stops at `max_decompressed` and never
//! allocates past it.
//!
//! This test binary installs a counting global allocator, so each test can
//! measure the peak memory a single `decompress` call allocated on its
//! thread. That turns "stops at the limit" from a claim about time into a
//! number a test can assert.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use shoutnet_compress::{Error, Method, XZ_MAX_DICT, compress, decompress};

/// Counts the bytes live on each thread and their high-water mark.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(bytes: usize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(bytes);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn sub(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the new block before the old one is freed: a moving realloc
        // briefly holds both.
        add(new_size);
        sub(layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the peak number of bytes it had
/// allocated at once on this thread, above what was live before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let result = f();
    (result, PEAK.with(Cell::get) - before)
}

const MIB: usize = 1 << 20;

/// 64 MiB of zeros, the bomb payload.
const BOMB_SIZE: usize = 64 * MIB;

/// The limit the bombs meet.
const LIMIT: usize = MIB;

/// What a method's decoder may allocate on top of the output buffer: the
/// fixed state of the decoder. bzip2 at level 1 needs ~400 kB of block memory
/// (plus the fixed tables of its decoder); xz's dictionary window grows with
/// the output, and doubles as it grows, so it can reach twice the output;
/// everyone else needs tens of kilobytes.
///
/// The output buffer itself holds at most `LIMIT` bytes, but while it grows
/// from half the limit to the limit the old and the new allocation are both
/// live for a moment: hence `LIMIT * 3 / 2` below.
fn overhead(method: Method) -> usize {
    match method {
        Method::Bz2 => MIB,
        Method::Lzma => 2 * LIMIT + MIB,
        _ => 256 << 10,
    }
}

#[test]
fn every_method_stops_a_bomb_at_the_limit_in_bounded_memory() {
    let zeros = vec![0_u8; BOMB_SIZE];
    for method in Method::ALL {
        let bomb = compress(method, &zeros).unwrap();
        if method != Method::None {
            assert!(
                bomb.len() < BOMB_SIZE / 20,
                "{method}: {} bytes",
                bomb.len()
            );
        }
        let (result, peak) = peak_of(|| decompress(method, &bomb, LIMIT));
        println!(
            "{method}: bomb of {} bytes stopped, peak allocation {peak}",
            bomb.len()
        );
        assert_eq!(
            result,
            Err(Error::OutputLimit {
                method,
                limit: LIMIT
            }),
            "{method}"
        );
        assert!(
            peak <= LIMIT * 3 / 2 + overhead(method),
            "{method}: allocated {peak} bytes for a {LIMIT}-byte limit"
        );
    }
}

#[test]
fn a_bomb_under_the_limit_decodes() {
    // The same machinery lets an honest large body through.
    let zeros = vec![0_u8; 4 * MIB];
    for method in Method::ALL {
        let stream = compress(method, &zeros).unwrap();
        let (result, peak) = peak_of(|| decompress(method, &stream, zeros.len()));
        assert_eq!(result.as_deref(), Ok(&zeros[..]), "{method}");
        assert!(
            peak <= zeros.len() + overhead(method) + 2 * zeros.len(),
            "{method}: allocated {peak} bytes for {} bytes of output",
            zeros.len()
        );
    }
}

#[test]
fn snappy_declaring_4_gib_allocates_nothing() {
    // Varint 0xffff_ffff (4 GiB - 1, snappy's maximum), then one literal.
    let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, b'x'];
    let (result, peak) = peak_of(|| decompress(Method::Snappy, &block, LIMIT));
    assert_eq!(
        result,
        Err(Error::OutputLimit {
            method: Method::Snappy,
            limit: LIMIT
        })
    );
    assert_eq!(peak, 0);
    // Under a limit it would pass, it is still a lie the input cannot back.
    let (result, peak) = peak_of(|| decompress(Method::Snappy, &block, usize::MAX));
    assert_eq!(
        result,
        Err(Error::Corrupt {
            method: Method::Snappy
        })
    );
    assert_eq!(peak, 0);
}

#[test]
fn xz_declaring_the_largest_allowed_dictionary_allocates_by_output() {
    // A stream for 10 bytes whose header asks for a 64 MiB dictionary: the
    // dictionary-size byte of the block header is 28, and the header CRC32
    // is fixed up so only the dictionary differs.
    let mut stream = compress(Method::Lzma, b"0123456789").unwrap();
    let header_len = (usize::from(stream[12]) + 1) * 4;
    stream[16] = 28;
    let crc_at = 12 + header_len - 4;
    let crc = crc32(&stream[12..crc_at]);
    stream[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    let (result, peak) = peak_of(|| decompress(Method::Lzma, &stream, LIMIT));
    assert_eq!(result.as_deref(), Ok(&b"0123456789"[..]));
    assert!(peak < XZ_MAX_DICT as usize / 64, "allocated {peak} bytes");
}

/// CRC-32 (IEEE), as the xz block header uses, bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0_u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

mod support;

/// An xz block costs its decoder a 16-byte index record that is kept until
/// the end of the stream, whatever the block decodes to. 2^19 empty blocks
/// are 8 MiB of input that decode to nothing; before blocks were counted
/// against the output, they decoded "successfully" while holding 12 MiB of
/// records against a 1 MiB limit.
#[test]
fn xz_with_a_block_per_16_bytes_is_refused_within_the_limit() {
    for payload in [&b""[..], b"x"] {
        let stream = support::xz_tiny_blocks(1 << 19, payload);
        let (result, peak) = peak_of(|| decompress(Method::Lzma, &stream, LIMIT));
        assert_eq!(
            result,
            Err(Error::Corrupt {
                method: Method::Lzma
            }),
            "{} bytes a block",
            payload.len()
        );
        // Refused from the block headers, before anything is decoded.
        assert!(
            peak < 64 << 10,
            "allocated {peak} bytes for a {LIMIT}-byte limit"
        );
    }
}

#[test]
fn xz_blocks_are_allowed_16_and_one_per_kib_of_output() {
    // (blocks, bytes each): the most blocks allowed for that size, which is
    // 16 + blocks * bytes / 1024; blocks of 1 KiB or more are never too many.
    for (blocks, payload) in [(16, 0), (17, 64), (32, 512), (300, 1024)] {
        let data = vec![b'z'; payload];
        let stream = support::xz_tiny_blocks(blocks, &data);
        let output = data.repeat(blocks);
        let result = decompress(Method::Lzma, &stream, LIMIT);
        assert!(
            result.as_deref() == Ok(&output[..]),
            "{blocks} blocks of {payload} bytes: {:?}",
            result.map(|output| output.len())
        );
        if payload < 1024 {
            let more = support::xz_tiny_blocks(blocks + 1, &data);
            assert_eq!(
                decompress(Method::Lzma, &more, LIMIT).map(|output| output.len()),
                Err(Error::Corrupt {
                    method: Method::Lzma
                }),
                "{} blocks of {payload} bytes",
                blocks + 1
            );
        }
    }
}

/// Every LZMA2 chunk declares what it decodes to, and the decoder holds it to
/// that, so an xz bomb is refused from its chunk headers: no window, no
/// output buffer, no decoding.
#[test]
fn xz_bomb_is_refused_before_decoding() {
    let bomb = compress(Method::Lzma, &vec![0; BOMB_SIZE]).unwrap();
    let (result, peak) = peak_of(|| decompress(Method::Lzma, &bomb, LIMIT));
    assert_eq!(
        result,
        Err(Error::OutputLimit {
            method: Method::Lzma,
            limit: LIMIT
        })
    );
    assert_eq!(peak, 0);
}
