//! STS tokens (amikit-sts): generating and decoding one credit token, key derivation, and the
//! STA block cipher alone. A counting allocator proves that generating and decoding a token
//! allocate nothing.
//!
//! `cargo bench -p amikit-sts`. Throughput is in tokens (elements) per second. "Key given" means
//! the decoder key's cipher (key schedule) is prepared once, as a vending server or a meter
//! keeps it; the derivation benches measure the key derivation separately, with the vending
//! key prepared once. The STA benches use the IEC 62055-41 sample tables (same cost as any
//! other tables).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_sts::cipher::BlockCipher64;
use std::hint::black_box;

use amikit_sts::block::{CreditKind, Rnd, TokenData};
use amikit_sts::cipher::{SAMPLE_TABLES, Sta, TokenCipher};
use amikit_sts::dkga::{Dkga02, Dkga04};
use amikit_sts::keys::{
    DecoderKey, EncryptionAlgorithm, KeyParameters, KeyRevision, KeyType, SupplyGroupCode,
    TariffIndex,
};
use amikit_sts::tid::{BaseDate, Tid};
use amikit_sts::token::Token;
use amikit_sts::vend::{Issue, Vendor};
use amikit_testkit::alloc::CountingAllocator;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// STS 531 CTSA01 key parameters (PAN 600727000000000009, SGC 123456/123457, TI 01, KRN 1).
fn params(ea: EncryptionAlgorithm) -> KeyParameters {
    KeyParameters {
        pan: "600727000000000009".parse().unwrap(),
        sgc: SupplyGroupCode::try_from(123_456).unwrap(),
        ti: TariffIndex::try_from(1).unwrap(),
        krn: KeyRevision::try_from(1).unwrap(),
        kt: KeyType::Unique,
        base_date: BaseDate::Y1993,
        ea,
    }
}

const VK02: [u8; 8] = [0xAB; 8];
const VK04: [u8; 20] = [
    0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94,
    0x01, 0x23, 0x45, 0x67,
];

fn bench_pair(c: &mut Criterion, name: &str, cipher: &TokenCipher<'_>) {
    let vendor = Vendor::new(cipher.clone(), KeyType::Unique, BaseDate::Y1993);
    let tid = Tid::try_from(5_871_715).unwrap();
    let rnd = Rnd::try_from(5).unwrap();
    let token = vendor
        .credit(CreditKind::Electricity, 256, Issue::Tid(tid), rnd)
        .unwrap();
    let digits = token.to_digits();
    let text = std::str::from_utf8(&digits).unwrap().to_owned();

    let before = ALLOC.allocations();
    for _ in 0..1000 {
        let t = vendor
            .credit(
                CreditKind::Electricity,
                black_box(256),
                Issue::Tid(tid),
                rnd,
            )
            .unwrap();
        assert_eq!(t.to_digits(), digits);
        let parsed: Token = black_box(text.as_str()).parse().unwrap();
        black_box(cipher.decode(parsed).unwrap());
    }
    assert_eq!(
        ALLOC.allocations(),
        before,
        "{name}: generate or decode allocated"
    );

    let mut group = c.benchmark_group(format!("sts/{name}"));
    group.throughput(Throughput::Elements(1));
    // Generate: build the block, CRC, encrypt, transpose, format the 20 digits.
    group.bench_function("generate credit token (key given)", |b| {
        b.iter(|| {
            let t = vendor
                .credit(
                    CreditKind::Electricity,
                    black_box(256),
                    Issue::Tid(black_box(tid)),
                    black_box(rnd),
                )
                .unwrap();
            let d = t.to_digits();
            assert_eq!(d, digits);
            d
        });
    });
    // Decode: parse the 20 digits, un-transpose, decrypt, check the CRC, typed block.
    group.bench_function("decode credit token (key given)", |b| {
        b.iter(|| {
            let t: Token = black_box(text.as_str()).parse().unwrap();
            let data = cipher.decode(t).unwrap();
            assert!(matches!(data, TokenData::Credit(c) if c.tid == tid));
            data
        });
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let key02 = Dkga02::new(VK02).derive64(&params(EncryptionAlgorithm::Sta));
    bench_pair(
        c,
        "DKGA02+STA",
        &TokenCipher::Sta(amikit_sts::cipher::Sta::new(key02, &SAMPLE_TABLES)),
    );
    let DecoderKey::Bits128(key04) = Dkga04::new(&VK04)
        .unwrap()
        .derive(&params(EncryptionAlgorithm::Misty1))
        .unwrap()
    else {
        panic!("a 128-bit key")
    };
    bench_pair(
        c,
        "DKGA04+MISTY1",
        &TokenCipher::Misty1(amikit_sts::cipher::Misty1::from_u128(key04)),
    );
}

fn derivation(c: &mut Criterion) {
    let mut group = c.benchmark_group("sts/derive");
    group.throughput(Throughput::Elements(1));
    let p02 = params(EncryptionAlgorithm::Sta);
    let d02 = Dkga02::new(VK02);
    // STS 531 CTSA01 step 1: e653341f9d5bf36f.
    group.bench_function("DKGA02 (vending key prepared)", |b| {
        b.iter(|| {
            let k = d02.derive(black_box(&p02)).unwrap();
            assert_eq!(k, DecoderKey::Bits64(0xE653_341F_9D5B_F36F));
            k
        });
    });
    group.bench_function("DKGA02 (from raw vending key)", |b| {
        b.iter(|| {
            let k = Dkga02::new(black_box(VK02))
                .derive(black_box(&p02))
                .unwrap();
            assert_eq!(k, DecoderKey::Bits64(0xE653_341F_9D5B_F36F));
            k
        });
    });
    let mut p04 = params(EncryptionAlgorithm::Misty1);
    p04.sgc = SupplyGroupCode::try_from(123_457).unwrap();
    let d04 = Dkga04::new(&VK04).unwrap();
    // STS 531-1-0-04 CTSA01: f94b6ed353c3bfdb113e2d3a7ea3c41d.
    let expected = DecoderKey::Bits128(0xF94B_6ED3_53C3_BFDB_113E_2D3A_7EA3_C41D);
    group.bench_function("DKGA04 (vending key prepared)", |b| {
        b.iter(|| {
            let k = d04.derive(black_box(&p04)).unwrap();
            assert_eq!(k, expected);
            k
        });
    });
    group.bench_function("DKGA04 (from raw vending key)", |b| {
        b.iter(|| {
            let k = Dkga04::new(black_box(&VK04))
                .unwrap()
                .derive(black_box(&p04))
                .unwrap();
            assert_eq!(k, expected);
            k
        });
    });
    group.finish();
}

fn sta_block(c: &mut Criterion) {
    let mut group = c.benchmark_group("sts/STA block");
    group.throughput(Throughput::Bytes(8));
    // IEC 62055-41 worked example, sample tables.
    let sta = Sta::new(0x0ABC_12DE_F345_6789, &SAMPLE_TABLES);
    group.bench_function("encrypt", |b| {
        b.iter(|| {
            let c = sta.encrypt(black_box(0x0B19_EB23_0100_C207));
            assert_eq!(c, 0xC45E_D161_9406_DF95);
            c
        });
    });
    group.bench_function("decrypt", |b| {
        b.iter(|| {
            let p = sta.decrypt(black_box(0xC45E_D161_9406_DF95));
            assert_eq!(p, 0x0B19_EB23_0100_C207);
            p
        });
    });
    group.bench_function("key schedule", |b| {
        b.iter(|| Sta::new(black_box(0x0ABC_12DE_F345_6789), &SAMPLE_TABLES));
    });
    group.finish();
}

criterion_group!(benches, tokens, derivation, sta_block);
criterion_main!(benches);
