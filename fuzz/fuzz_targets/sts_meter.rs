//! The meter-side decoder with arbitrary token sequences: raw tokens, valid credit and
//! management tokens, key changes (sections in any order, with time passing). Never panics,
//! never accepts a token twice while the TID memory is not reset, and keeps the credit
//! register equal to what it reported.
#![no_main]

use std::collections::HashSet;

use amikit_sts::block::{CreditKind, Rnd};
use amikit_sts::cipher::{SAMPLE_TABLES, TokenCipher};
use amikit_sts::keys::{
    DecoderKey, EncryptionAlgorithm, KeyExpiry, KeyRevision, KeyType, SupplyGroupCode, TariffIndex,
};
use amikit_sts::meter::{Action, Meter, MeterConfig};
use amikit_sts::tid::{BaseDate, Tid};
use amikit_sts::token::Token;
use amikit_sts::vend::{Issue, Management, NewKey, Vendor};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Any 66-bit value (taken modulo 2^66) as a token.
    Raw(u128),
    /// A valid credit token for the meter's current key.
    Credit {
        tid: u32,
        rnd: u8,
        tenths: u32,
        kind: u8,
    },
    /// A valid management token.
    Manage { tid: u32, op: u8, value: u16 },
    /// A key-change set for a new key, its sections entered in the order given.
    KeyChange {
        key: u128,
        krn: u8,
        ti: u8,
        ken: u8,
        rollover: bool,
        order: u8,
        sgc: u32,
    },
    /// Re-enter a token accepted earlier.
    Replay(u8),
    /// Time passes (seconds).
    Wait(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    wide: bool,
    kt: u8,
    ken: u8,
    key: u128,
    ops: Vec<Op>,
}

fn cipher_of(key: &DecoderKey) -> TokenCipher<'static> {
    match *key {
        DecoderKey::Bits64(k) => TokenCipher::Sta(amikit_sts::cipher::Sta::new(k, &SAMPLE_TABLES)),
        DecoderKey::Bits128(k) => TokenCipher::Misty1(amikit_sts::cipher::Misty1::from_u128(k)),
    }
}

fuzz_target!(|input: Input| {
    let (ea, key) = if input.wide {
        (EncryptionAlgorithm::Misty1, DecoderKey::Bits128(input.key))
    } else {
        (
            EncryptionAlgorithm::Sta,
            DecoderKey::Bits64(input.key as u64),
        )
    };
    let mut config = MeterConfig::new(key, ea, KeyType::from_bits(input.kt), BaseDate::Y1993);
    config.ken = KeyExpiry(input.ken);
    let mut meter: Meter<'static, 8> = Meter::new(config, Some(&SAMPLE_TABLES)).unwrap();
    let mut now = 0u64;
    let mut accepted: Vec<Token> = Vec::new();
    let mut seen: HashSet<Token> = HashSet::new();
    let mut credit = 0u64;

    for op in input.ops.iter().take(64) {
        let vendor = Vendor::new(
            cipher_of(&meter.config().key),
            KeyType::Unique,
            BaseDate::Y1993,
        );
        let mut tokens: Vec<Token> = Vec::new();
        match *op {
            Op::Raw(v) => tokens.push(Token::try_from(v % (1 << 66)).unwrap()),
            Op::Credit {
                tid,
                rnd,
                tenths,
                kind,
            } => {
                if let Ok(t) = vendor.credit(
                    CreditKind::from_subclass(kind),
                    u64::from(tenths),
                    Issue::Tid(Tid::from_bits(tid)),
                    Rnd::from_bits(rnd),
                ) {
                    tokens.push(t);
                }
            }
            Op::Manage { tid, op, value } => {
                let m = match op % 6 {
                    0 => Management::MaxPowerLimit {
                        watts: value.into(),
                    },
                    1 => Management::ClearCredit { register: value },
                    2 => Management::TariffRate { rate: value },
                    3 => Management::ClearTamper,
                    4 => Management::MaxPhasePowerUnbalanceLimit {
                        watts: value.into(),
                    },
                    _ => Management::WaterMeterFactor { factor: value },
                };
                if let Ok(t) = vendor.management(m, Issue::Tid(Tid::from_bits(tid)), Rnd::default())
                {
                    tokens.push(t);
                }
            }
            Op::KeyChange {
                key,
                krn,
                ti,
                ken,
                rollover,
                order,
                sgc,
            } => {
                let new = NewKey {
                    key: if input.wide {
                        DecoderKey::Bits128(key)
                    } else {
                        DecoderKey::Bits64(key as u64)
                    },
                    kt: KeyType::Unique,
                    krn: KeyRevision::try_from(krn % 15 + 1).unwrap(),
                    ken: KeyExpiry(ken),
                    ti: TariffIndex::try_from(ti % 100).unwrap(),
                    rollover,
                    sgc: SupplyGroupCode::try_from(sgc % 1_000_000).ok(),
                };
                if let Ok(set) = vendor.key_change(&new) {
                    let mut list: Vec<Token> = set.iter().copied().collect();
                    let n = list.len();
                    list.rotate_left(usize::from(order) % n);
                    tokens.extend(list);
                }
            }
            Op::Replay(i) => {
                if !accepted.is_empty() {
                    tokens.push(accepted[usize::from(i) % accepted.len()]);
                }
            }
            Op::Wait(s) => now += u64::from(s),
        }
        for token in tokens {
            let Ok(ok) = meter.enter(token, now) else {
                continue;
            };
            assert!(meter.tid_memory().len() <= 8);
            if ok.data.tid().is_some() {
                assert!(seen.insert(token), "token {token} accepted twice");
                accepted.push(token);
            }
            match ok.action {
                Action::AddCredit {
                    tenths, balance, ..
                } => {
                    credit += tenths;
                    assert_eq!(balance, credit);
                }
                Action::ClearCredit { cleared: true, .. } => credit = 0,
                Action::KeyChanged { rollover: true, .. } => {
                    // The TID memory is cleared: earlier tokens may be entered again
                    // (under the new key they no longer authenticate, unless it is the same).
                    assert!(meter.tid_memory().is_empty());
                    seen.clear();
                }
                _ => {}
            }
            assert_eq!(meter.credit(), credit);
        }
    }
});
