//! Implements docs/PROTOCOL.md §3 "Compression" and §11 "Limits" as a
//! measurement: what decompressing a body costs the receiver, per byte of
//! output and per byte the peer sent, for each method, on honest bodies,
//! on bombs stopped at `max_decompressed`, and on streams built to cost the
//! decoder the most (tests/support/mod.rs builds them), next to a `memcpy`
//! of the same output bytes.
//!
//! ```sh
//! cargo bench -p shoutnet-compress --bench decompress_cost
//! cargo xtask bench decompress_cost          # the same
//! cargo bench -p shoutnet-compress --bench decompress_cost -- --quick
//! ```
//!
//! It prints one markdown table from one run (the table in the crate's
//! README comes from it). Every call goes through the public
//! `decompress(method, input, limit)` with the 64 MiB limit in force, and
//! its outcome is checked before it is timed. A time is the fastest of
//! several batches of calls (each batch at least 50 ms), so a busy machine
//! inflates it less.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke
//! test: small inputs, a 1 MiB limit, one call per case, outcomes checked.
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads the clock; the crate itself never does"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use shoutnet_compress::{Error, Method, compress, decompress};

#[path = "../tests/support/mod.rs"]
mod support;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// How big and how long.
struct Scale {
    /// The output limit every call meets: `max_decompressed`.
    limit: usize,
    /// The size of "large" bodies and of the hand-built streams' input.
    large: usize,
    /// Batches per case (the fastest counts) and the least time per batch;
    /// `None` means one untimed-for-accuracy call (the smoke test).
    timing: Option<(usize, Duration)>,
}

/// What a call must return.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The body, this many bytes long.
    Decodes(usize),
    /// [`Error::OutputLimit`], after the decoder produced this many bytes.
    Limit { produced: usize },
    /// [`Error::Corrupt`], refused before decoding.
    Corrupt,
}

impl Expect {
    /// The bytes the decoder produced, which the receiver paid for.
    fn produced(self) -> usize {
        match self {
            Self::Decodes(n) | Self::Limit { produced: n } => n,
            Self::Corrupt => 0,
        }
    }
}

struct Case {
    method: Method,
    kind: String,
    input: Vec<u8>,
    expect: Expect,
}

fn case(method: Method, kind: impl Into<String>, input: Vec<u8>, expect: Expect) -> Case {
    Case {
        method,
        kind: kind.into(),
        input,
        expect,
    }
}

/// `n` bytes as "1 KiB", "64 MiB" or the number.
fn size(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        n.to_string()
    }
}

/// Every case, in table order.
fn cases(scale: &Scale) -> Vec<Case> {
    let limit = scale.limit;
    let large = scale.large;
    let zeros_at_cap = vec![0_u8; limit];
    let bomb = vec![0_u8; limit + large];
    let bomb_label = format!("bomb: zeros, {} + {}", size(limit), size(large));
    let streamed_bomb = Expect::Limit {
        produced: limit + 1,
    };
    let small_body = support::body(KIB);
    let large_body = support::body(large);
    let skewed = support::skewed(large);
    let crate_stream = |method, data: &[u8]| compress(method, data).unwrap();
    let honest = |method| {
        [
            case(
                method,
                "msgpack-like 1 KiB",
                crate_stream(method, &small_body),
                Expect::Decodes(KIB),
            ),
            case(
                method,
                format!("msgpack-like {}", size(large)),
                crate_stream(method, &large_body),
                Expect::Decodes(large),
            ),
        ]
    };
    let mut all = Vec::new();

    // none: the body as is.
    all.extend(honest(Method::None));
    all.push(case(
        Method::None,
        format!("zeros, {} (= cap)", size(limit)),
        zeros_at_cap.clone(),
        Expect::Decodes(limit),
    ));

    // bz2. The crate writes BZh1; a peer may write any level, and BZh9 has
    // the highest ratio and the largest blocks (3.6 MB of decoder state).
    all.extend(honest(Method::Bz2));
    all.push(case(
        Method::Bz2,
        format!("skewed random {}, BZh9", size(large)),
        support::bz2_at_level(&skewed, 9),
        Expect::Decodes(large),
    ));
    let period2 = b"ab".repeat(4 * large);
    all.push(case(
        Method::Bz2,
        format!("'abab…' {} (sort-hostile), BZh9", size(period2.len())),
        support::bz2_at_level(&period2, 9),
        Expect::Decodes(period2.len()),
    ));
    all.push(case(
        Method::Bz2,
        format!("{bomb_label}, BZh1"),
        crate_stream(Method::Bz2, &bomb),
        streamed_bomb,
    ));
    all.push(case(
        Method::Bz2,
        format!("{bomb_label}, BZh9"),
        support::bz2_at_level(&bomb, 9),
        streamed_bomb,
    ));
    all.push(case(
        Method::Bz2,
        "1-byte body, BZh9",
        support::bz2_at_level(b"x", 9),
        Expect::Decodes(1),
    ));
    let one_block = support::bz2_tiny_blocks(9, b'x', 1).len();
    let blocks = large / (one_block - 14);
    all.push(case(
        Method::Bz2,
        format!("{blocks} blocks of 1 byte, BZh9"),
        support::bz2_tiny_blocks(9, b'x', blocks),
        Expect::Decodes(blocks),
    ));

    // gzip and zlib: the same inflater behind different wrappers.
    for method in [Method::Gzip, Method::Zlib] {
        let wrap = |raw: &[u8], output: &[u8]| match method {
            Method::Gzip => support::gzip_wrap(raw, output),
            _ => support::zlib_wrap(raw, output),
        };
        all.extend(honest(method));
        all.push(case(
            method,
            format!("skewed random {}", size(large)),
            crate_stream(method, &skewed),
            Expect::Decodes(large),
        ));
        all.push(case(
            method,
            bomb_label.clone(),
            crate_stream(method, &bomb),
            streamed_bomb,
        ));
        let blocks = large * 8 / 10;
        let (raw, output) = support::deflate_fixed_blocks(blocks, None);
        all.push(case(
            method,
            format!("{blocks} empty fixed-Huffman blocks"),
            wrap(&raw, &output),
            Expect::Decodes(0),
        ));
        let blocks = large * 8 / 18;
        let (raw, output) = support::deflate_fixed_blocks(blocks, Some(b'x'));
        all.push(case(
            method,
            format!("{blocks} fixed-Huffman blocks of 1 byte"),
            wrap(&raw, &output),
            Expect::Decodes(blocks),
        ));
    }

    // lzma (.xz).
    all.extend(honest(Method::Lzma));
    all.push(case(
        Method::Lzma,
        format!("skewed random {}", size(large)),
        crate_stream(Method::Lzma, &skewed),
        Expect::Decodes(large),
    ));
    all.push(case(
        Method::Lzma,
        format!("zeros, {} (= cap)", size(limit)),
        crate_stream(Method::Lzma, &zeros_at_cap),
        Expect::Decodes(limit),
    ));
    all.push(case(
        Method::Lzma,
        bomb_label.clone(),
        crate_stream(Method::Lzma, &bomb),
        Expect::Limit { produced: 0 },
    ));
    let (len, chunk) = (1..=64)
        .find_map(|len| support::lzma_reset_chunk(len).map(|chunk| (len, chunk)))
        .expect("an LZMA chunk for some run of zeros");
    let copies = large / chunk.len();
    all.push(case(
        Method::Lzma,
        format!("{copies} LZMA2 chunks of {len} B, each resetting lc+lp=4"),
        support::xz_reset_chunks(&chunk, len, copies),
        Expect::Decodes(len * copies),
    ));
    let blocks = large / (KIB + 16);
    all.push(case(
        Method::Lzma,
        format!("{blocks} blocks of 1 KiB, 64 MiB dictionary"),
        support::xz_tiny_blocks(blocks, &[b'z'; KIB]),
        Expect::Decodes(blocks * KIB),
    ));
    let blocks = large / 20;
    all.push(case(
        Method::Lzma,
        format!("{blocks} blocks of 1 byte (refused)"),
        support::xz_tiny_blocks(blocks, b"x"),
        Expect::Corrupt,
    ));

    // snappy: the declared length is checked before anything is decoded.
    all.extend(honest(Method::Snappy));
    all.push(case(
        Method::Snappy,
        format!("skewed random {}", size(large)),
        crate_stream(Method::Snappy, &skewed),
        Expect::Decodes(large),
    ));
    all.push(case(
        Method::Snappy,
        format!("zeros, {} (= cap)", size(limit)),
        crate_stream(Method::Snappy, &zeros_at_cap),
        Expect::Decodes(limit),
    ));
    all.push(case(
        Method::Snappy,
        bomb_label,
        crate_stream(Method::Snappy, &bomb),
        Expect::Limit { produced: 0 },
    ));
    all.push(case(
        Method::Snappy,
        format!("{} one-byte literals", large / 2),
        support::snappy_literals(large / 2),
        Expect::Decodes(large / 2),
    ));
    all.push(case(
        Method::Snappy,
        format!("{} 4-byte copies", large / 2),
        support::snappy_short_copies(large / 2),
        Expect::Decodes(1 + 2 * large),
    ));
    all
}

/// Checks that `case` decodes (or is refused) as it should.
fn check(case: &Case, limit: usize) {
    let result = decompress(case.method, &case.input, limit);
    let ok = match (case.expect, &result) {
        (Expect::Decodes(n), Ok(output)) => output.len() == n,
        (Expect::Limit { .. }, Err(Error::OutputLimit { .. }))
        | (Expect::Corrupt, Err(Error::Corrupt { .. })) => true,
        _ => false,
    };
    assert!(
        ok,
        "{} / {}: expected {:?}, got {:?}",
        case.method,
        case.kind,
        case.expect,
        result.map(|output| output.len())
    );
}

/// Nanoseconds per call of `f`: the fastest of `batches` batches, each
/// repeating `f` for at least `least` (one call untimed first, to warm up
/// and to size the batches).
fn time(timing: Option<(usize, Duration)>, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let first = start.elapsed().as_secs_f64();
    let Some((batches, least)) = timing else {
        return first * 1e9;
    };
    let reps = (least.as_secs_f64() / first.max(1e-9))
        .ceil()
        .clamp(1.0, 1e6) as u32;
    (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(reps)
        })
        .fold(f64::INFINITY, f64::min)
}

/// `x` with thousands separators, rounded to an integer.
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A per-byte figure: three significant digits or so, grouped when large.
fn figure(x: f64) -> String {
    if x >= 1000.0 {
        grouped(x)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The first line of /proc/cpuinfo naming the CPU model, if there is one.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The 1-minute load average, if the system says.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|load| load.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|arg| arg == "--bench");
    let quick = args.iter().any(|arg| arg == "--quick");
    let scale = if bench {
        Scale {
            limit: 64 * MIB,
            large: MIB,
            timing: Some(if quick {
                (3, Duration::from_millis(20))
            } else {
                (5, Duration::from_millis(50))
            }),
        }
    } else {
        Scale {
            limit: MIB,
            large: 64 * KIB,
            timing: None,
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "decompress_cost: {}, limit {} for every call; {}; {cores} logical CPUs; \
         load average {} at start",
        if scale.timing.is_some() {
            "fastest of several batches"
        } else {
            "smoke test (run with --bench to measure)"
        },
        size(scale.limit),
        cpu_model(),
        load(),
    );
    let cases = cases(&scale);
    let largest = cases
        .iter()
        .map(|case| case.expect.produced())
        .max()
        .unwrap_or(0);
    let source = vec![0x5a_u8; largest];
    let mut memcpy: BTreeMap<usize, f64> = BTreeMap::new();

    println!();
    println!(
        "| method | input | input bytes | output bytes | output:input | ms per call | \
         ns per output byte | µs per input KiB | memcpy ns per output byte | × memcpy |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for case in &cases {
        check(case, scale.limit);
        let ns = time(scale.timing, || {
            let _ = black_box(decompress(case.method, black_box(&case.input), scale.limit));
        });
        let produced = case.expect.produced();
        let copy = (produced > 0).then(|| {
            *memcpy.entry(produced).or_insert_with(|| {
                time(scale.timing, || {
                    black_box(black_box(&source[..produced]).to_vec());
                }) / produced as f64
            })
        });
        let per_output = (produced > 0).then(|| ns / produced as f64);
        let input = case.input.len();
        let dash = || "—".to_owned();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.method,
            case.kind,
            grouped(input as f64),
            grouped(produced as f64),
            figure(produced as f64 / input as f64),
            figure(ns / 1e6),
            per_output.map_or_else(dash, figure),
            figure(ns / 1e3 / (input as f64 / KIB as f64)),
            copy.map_or_else(dash, figure),
            per_output
                .zip(copy)
                .map_or_else(dash, |(cost, copy)| figure(cost / copy)),
        );
    }
    println!();
    println!("load average {} at the end", load());
}
