//! The secure channel's cost (docs/PROTOCOL.md §9.1), to choose its cipher
//! by measurement: a Noise `XX` handshake (both sides) and sealing plus
//! opening 64 KiB transport messages, for ChaCha20-Poly1305 and
//! AES-256-GCM, beside `memcpy` of the same bytes, in one run. Prints one
//! table.
//!
//! ```sh
//! cargo bench -p shoutnet-engine --bench channel
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use shoutnet_engine::channel::MAX_CHUNK;

/// The fastest of `rounds` timings of `f`, each at least `min` long.
fn fastest(rounds: usize, min: Duration, mut f: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = (Duration::MAX, 1);
    for _ in 0..rounds {
        #[allow(clippy::disallowed_methods)] // A benchmark reads the clock.
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < min {
            n += f();
        }
        let per = start.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        if per < best.0 {
            best = (per, n);
        }
    }
    best
}

/// snow's default primitives with a counter for randomness: the workspace
/// builds snow without the operating system's RNG, and a benchmark needs
/// no secrets.
struct BenchResolver;

struct Counter(u8);

impl snow::types::Random for Counter {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

impl snow::resolvers::CryptoResolver for BenchResolver {
    fn resolve_rng(&self) -> Option<Box<dyn snow::types::Random>> {
        Some(Box::new(Counter(0)))
    }
    fn resolve_dh(&self, c: &snow::params::DHChoice) -> Option<Box<dyn snow::types::Dh>> {
        snow::resolvers::DefaultResolver.resolve_dh(c)
    }
    fn resolve_hash(&self, c: &snow::params::HashChoice) -> Option<Box<dyn snow::types::Hash>> {
        snow::resolvers::DefaultResolver.resolve_hash(c)
    }
    fn resolve_cipher(
        &self,
        c: &snow::params::CipherChoice,
    ) -> Option<Box<dyn snow::types::Cipher>> {
        snow::resolvers::DefaultResolver.resolve_cipher(c)
    }
}

fn pair(params: &str) -> (snow::HandshakeState, snow::HandshakeState) {
    let p: snow::params::NoiseParams = params.parse().expect("known params");
    let i = snow::Builder::with_resolver(p.clone(), Box::new(BenchResolver))
        .local_private_key(&[1; 32])
        .and_then(|b| b.build_initiator())
        .expect("initiator");
    let r = snow::Builder::with_resolver(p, Box::new(BenchResolver))
        .local_private_key(&[2; 32])
        .and_then(|b| b.build_responder())
        .expect("responder");
    (i, r)
}

fn handshake(params: &str) -> (snow::TransportState, snow::TransportState) {
    let (mut i, mut r) = pair(params);
    let (mut buf, mut out) = (vec![0u8; 65_535], vec![0u8; 65_535]);
    let n = i.write_message(&[], &mut buf).expect("m1");
    r.read_message(&buf[..n], &mut out).expect("m1");
    let n = r.write_message(&[], &mut buf).expect("m2");
    i.read_message(&buf[..n], &mut out).expect("m2");
    let n = i.write_message(&[], &mut buf).expect("m3");
    r.read_message(&buf[..n], &mut out).expect("m3");
    (
        i.into_transport_mode().expect("transport"),
        r.into_transport_mode().expect("transport"),
    )
}

fn main() {
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let (rounds, min) = if quick {
        (1, Duration::from_millis(20))
    } else {
        (5, Duration::from_millis(300))
    };
    let data = vec![7u8; MAX_CHUNK];
    let mut copy = vec![0u8; MAX_CHUNK];
    let (memcpy, _) = fastest(rounds, min, || {
        copy.copy_from_slice(black_box(&data));
        black_box(&copy);
        1
    });
    let mb_per_s = |per: Duration| MAX_CHUNK as f64 / per.as_secs_f64() / 1e6;
    println!(
        "| protocol | handshake, both sides (µs) | seal + open 64 KiB (MB/s) | memcpy 64 KiB (MB/s) |"
    );
    println!("|---|--:|--:|--:|");
    for params in [
        "Noise_XX_25519_ChaChaPoly_SHA256",
        "Noise_XX_25519_AESGCM_SHA256",
    ] {
        let (hs, _) = fastest(rounds, min, || {
            black_box(handshake(params));
            1
        });
        let (mut i, mut r) = handshake(params);
        let (mut wire, mut plain) = (vec![0u8; 65_535], vec![0u8; 65_535]);
        let (seal_open, _) = fastest(rounds, min, || {
            let n = i.write_message(black_box(&data), &mut wire).expect("seal");
            r.read_message(&wire[..n], &mut plain).expect("open");
            1
        });
        println!(
            "| {params} | {:.0} | {:.0} | {:.0} |",
            hs.as_secs_f64() * 1e6,
            mb_per_s(seal_open),
            mb_per_s(memcpy)
        );
    }
}
