//! Cost of the private- and public-key operations of docs/PROTOCOL.md
//! §5.3–§5.4 for both profiles: sign and verify, encrypt and decrypt of a
//! 256-byte and a 64 KiB message, and key generation. Short measurement
//! times keep the whole run under two minutes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::{Keypair, Profile, encrypt};

const SIZES: [(usize, &str); 2] = [(256, "256B"), (64 * 1024, "64KiB")];

fn fixture(profile: Profile) -> Keypair {
    let pem = match profile {
        Profile::Ed25519 => include_str!("../../../fixtures/keys/ed25519-1.pem"),
        Profile::Rsa2048 => include_str!("../../../fixtures/keys/rsa2048-1.pem"),
    };
    Keypair::from_pkcs8_pem(pem).unwrap()
}

fn operations(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let aad = [0x5a; 70];
    for profile in Profile::ALL {
        let keypair = fixture(profile);
        let mut group = c.benchmark_group(format!("crypto/{profile}"));
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(2))
            .sample_size(20);
        for (len, name) in SIZES {
            let data = vec![0xa5u8; len];
            group.throughput(Throughput::Bytes(len as u64));
            let signature = keypair.sign(&mut rng, &data).unwrap();
            group.bench_function(format!("sign/{name}"), |b| {
                b.iter(|| keypair.sign(&mut rng, black_box(&data)).unwrap());
            });
            group.bench_function(format!("verify/{name}"), |b| {
                b.iter(|| {
                    keypair
                        .public()
                        .verify(black_box(&data), &signature)
                        .unwrap()
                });
            });
            let content = encrypt(keypair.public(), &mut rng, &aad, &data).unwrap();
            group.bench_function(format!("encrypt/{name}"), |b| {
                b.iter(|| encrypt(keypair.public(), &mut rng, &aad, black_box(&data)).unwrap());
            });
            group.bench_function(format!("decrypt/{name}"), |b| {
                b.iter(|| {
                    keypair
                        .decrypt(&mut rng, &aad, black_box(&content))
                        .unwrap()
                });
            });
        }
        group.finish();
    }
}

fn keygen(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let mut group = c.benchmark_group("crypto/keygen");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10);
    for profile in Profile::ALL {
        group.bench_function(profile.name(), |b| {
            b.iter_batched(
                || (),
                |()| Keypair::generate(profile, &mut rng).unwrap(),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, operations, keygen);
criterion_main!(benches);
