//! Property tests: cipher inverses, transposition, amount rounding, block losslessness, digit
//! typos, and the TID memory never accepting a replay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_sts::cipher::BlockCipher64;
use std::collections::HashSet;

use amikit_sts::amount::{Amount, MAX_VALUE};
use amikit_sts::block::{CreditKind, Rnd, TokenData};
use amikit_sts::cipher::{Des, Misty1, SAMPLE_TABLES, Sta, StaTables, TokenCipher};
use amikit_sts::keys::{DecoderKey, EncryptionAlgorithm, KeyType};
use amikit_sts::meter::{Meter, MeterConfig, Reject};
use amikit_sts::tid::{BaseDate, Tid};
use amikit_sts::token::{TOKEN_LIMIT, Token, TokenClass};
use amikit_sts::vend::{Issue, Vendor};
use proptest::prelude::*;
use proptest::sample::Index;

/// A random permutation of 0..n (Fisher–Yates driven by proptest indices).
fn permutation(n: usize, picks: &[Index]) -> Vec<u8> {
    let mut items: Vec<u8> = (0..n as u8).collect();
    for (i, pick) in picks.iter().enumerate().take(n) {
        let j = i + pick.index(n - i);
        items.swap(i, j);
    }
    items
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sta_sample_tables_round_trip(key: u64, block: u64) {
        let sta = Sta::new(key, &SAMPLE_TABLES);
        prop_assert_eq!(sta.decrypt(sta.encrypt(block)), block);
        prop_assert_eq!(sta.encrypt(sta.decrypt(block)), block);
    }

    #[test]
    fn sta_any_tables_round_trip(
        key: u64,
        block: u64,
        p1 in prop::collection::vec(any::<Index>(), 16),
        p2 in prop::collection::vec(any::<Index>(), 16),
        pp in prop::collection::vec(any::<Index>(), 64),
    ) {
        let tables = StaTables::from_slices(
            &permutation(16, &p1),
            &permutation(16, &p2),
            &permutation(64, &pp),
        )
        .unwrap();
        let sta = Sta::new(key, &tables);
        prop_assert_eq!(sta.decrypt(sta.encrypt(block)), block);
    }

    #[test]
    fn misty1_round_trip(key: u128, block: u64) {
        let m = Misty1::from_u128(key);
        prop_assert_eq!(m.decrypt(m.encrypt(block)), block);
        prop_assert_eq!(m.encrypt(m.decrypt(block)), block);
    }

    #[test]
    fn des_round_trip(key: u64, block: u64) {
        let d = Des::new(key);
        prop_assert_eq!(d.decrypt(d.encrypt(block)), block);
    }

    #[test]
    fn transposition_round_trip(class in 0u8..4, block: u64) {
        let class = TokenClass::from_bits(class);
        let token = Token::from_block(class, block);
        prop_assert!(u128::from(token) < TOKEN_LIMIT);
        prop_assert_eq!(token.class(), class);
        prop_assert_eq!(token.block(), block);
    }

    #[test]
    fn every_token_value_transposes_back(value in 0u128..TOKEN_LIMIT) {
        let token = Token::try_from(value).unwrap();
        prop_assert_eq!(Token::from_block(token.class(), token.block()), token);
        // And its 20 digits parse back, plain and grouped.
        let digits = token.to_digits();
        prop_assert_eq!(Token::parse_bytes(&digits), Ok(token));
        prop_assert_eq!(Token::parse_bytes(format!("{token:#}").as_bytes()), Ok(token));
    }

    #[test]
    fn parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let _ = Token::parse_bytes(&bytes);
    }

    #[test]
    fn amount_is_least_representable_at_least_x(x in 0u64..=u64::from(MAX_VALUE)) {
        let a = Amount::from_value_ceil(x).unwrap();
        prop_assert!(u64::from(a.value()) >= x);
        // Codes are ordered by value, so the code just below must be below x.
        if u16::from(a) > 0 {
            prop_assert!(u64::from(Amount::from(u16::from(a) - 1).value()) < x);
        }
    }

    #[test]
    fn amount_code_round_trip(raw: u16) {
        let a = Amount::from(raw);
        prop_assert_eq!(Amount::from_value_ceil(u64::from(a.value())), Ok(a));
    }

    #[test]
    fn amount_above_max_is_refused(x in u64::from(MAX_VALUE) + 1..u64::MAX) {
        prop_assert!(Amount::from_value_ceil(x).is_err());
    }

    #[test]
    fn every_block_reads_losslessly(class in 0u8..4, block: u64) {
        let class = TokenClass::from_bits(class);
        let data = TokenData::from_block(class, block);
        prop_assert_eq!(data.class(), class);
        prop_assert_eq!(data.first48(), Ok(block >> 16));
    }

    #[test]
    fn tokens_round_trip_through_each_cipher(key: u128, first48 in 0u64..1 << 48, class in 0u8..4) {
        let class = TokenClass::from_bits(class);
        let data = TokenData::from_block(class, first48 << 16);
        for cipher in [
            TokenCipher::Sta(amikit_sts::cipher::Sta::new(key as u64, &SAMPLE_TABLES)),
            TokenCipher::Des(amikit_sts::cipher::Des::new(key as u64)),
            TokenCipher::Misty1(amikit_sts::cipher::Misty1::from_u128(key)),
        ] {
            let token = cipher.encode(&data).unwrap();
            prop_assert_eq!(token.class(), class);
            prop_assert_eq!(cipher.decode(token), Ok(data.clone()));
        }
    }
}

/// Replays never pass the TID memory, whatever the order of TIDs, with eviction at depth 4.
fn tid_memory_case(tids: &[u32], replays: &[usize]) -> Result<(), TestCaseError> {
    let key = 0x0ABC_12DE_F345_6789;
    let config = MeterConfig::new(
        DecoderKey::Bits64(key),
        EncryptionAlgorithm::Sta,
        KeyType::Unique,
        BaseDate::Y1993,
    );
    let mut meter: Meter<'_, 4> = Meter::new(config, Some(&SAMPLE_TABLES)).unwrap();
    let vendor = Vendor::new(
        TokenCipher::Sta(amikit_sts::cipher::Sta::new(key, &SAMPLE_TABLES)),
        KeyType::Unique,
        BaseDate::Y1993,
    );
    let mut accepted: Vec<Token> = Vec::new();
    let mut accepted_tids: HashSet<u32> = HashSet::new();
    for (i, &tid) in tids.iter().enumerate() {
        // Never the reserved minute (the vendor refuses it).
        let tid = if tid % 1440 == 1 { tid + 1 } else { tid };
        let token = vendor
            .credit(
                CreditKind::Electricity,
                1,
                Issue::Tid(Tid::try_from(tid).unwrap()),
                Rnd::from_bits(i as u8),
            )
            .unwrap();
        match meter.enter(token, 0) {
            Ok(_) => {
                prop_assert!(
                    accepted_tids.insert(tid),
                    "TID {tid} accepted twice (a different RND does not make it new)"
                );
                accepted.push(token);
            }
            Err(Reject::Used { .. } | Reject::Old { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected rejection {other:?}"),
        }
        // Replay some earlier accepted tokens: always refused.
        for &r in replays {
            if let Some(&old) = accepted.get(r % accepted.len().max(1)) {
                let again = meter.enter(old, 0);
                prop_assert!(
                    matches!(again, Err(Reject::Used { .. } | Reject::Old { .. })),
                    "replay accepted: {again:?}"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn tid_memory_never_accepts_a_replay(
        tids in prop::collection::vec(0u32..64, 1..40),
        replays in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        tid_memory_case(&tids, &replays)?;
    }

    #[test]
    fn tid_memory_never_accepts_a_replay_wide(
        tids in prop::collection::vec(0u32..=Tid::MAX, 1..40),
        replays in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        tid_memory_case(&tids, &replays)?;
    }
}

/// splitmix64: a fixed, seeded sample for the typo test (deterministic on every run).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Every single-digit change of a token (each position, each other digit) is rejected by
/// format or CRC, except a fraction near 2^-16 (a random 16-bit CRC matches by chance).
#[test]
fn single_digit_changes_are_rejected() {
    let mut rng = SplitMix(0x5354_5330_3431); // fixed seed
    let mut changed = 0u64;
    let mut passed_crc = 0u64;
    for round in 0..200 {
        let key = u128::from(rng.next()) << 64 | u128::from(rng.next());
        let cipher = if round % 2 == 0 {
            TokenCipher::Sta(amikit_sts::cipher::Sta::new(key as u64, &SAMPLE_TABLES))
        } else {
            TokenCipher::Misty1(amikit_sts::cipher::Misty1::from_u128(key))
        };
        let vendor = Vendor::new(cipher, KeyType::Unique, BaseDate::Y1993);
        for _ in 0..5 {
            let r = rng.next();
            let tid = Tid::try_from((r as u32) & Tid::MAX).unwrap();
            let tid = if tid.is_reserved() {
                Tid::try_from(u32::from(tid) ^ 2).unwrap()
            } else {
                tid
            };
            let token = vendor
                .credit(
                    CreditKind::Electricity,
                    (r >> 32) % 100_000,
                    Issue::Tid(tid),
                    Rnd::from_bits((r >> 60) as u8),
                )
                .unwrap();
            let digits = token.to_digits();
            for pos in 0..20 {
                for d in b'0'..=b'9' {
                    if digits[pos] == d {
                        continue;
                    }
                    let mut typo = digits;
                    typo[pos] = d;
                    changed += 1;
                    let Ok(t) = Token::parse_bytes(&typo) else {
                        continue; // 2^66 or more: a format error
                    };
                    if vendor.cipher().decode(t).is_ok() {
                        passed_crc += 1;
                    }
                }
            }
        }
    }
    assert_eq!(changed, 200 * 5 * 20 * 9);
    // Expected ≈ 180000 / 65536 ≈ 2.7; allow generous statistical room, still far below what
    // a broken CRC or transposition would give.
    println!("single-digit changes: {changed}, passed the CRC: {passed_crc}");
    assert!(
        passed_crc <= 12,
        "{passed_crc} of {changed} typos passed the CRC"
    );
}
