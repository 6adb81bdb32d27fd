//! Key hygiene: the `Debug` output of every key-bearing type, and the messages of key errors,
//! contain none of the key's bytes (as hex in either case, or as a decimal number), and
//! `Zeroize` wipes the key types. That no key type implements `Display` or hex formatting is
//! checked at compile time in the crate itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_sts::block::{CreditKind, KeyChange1, KeyChange2, KeyChange3, KeyChange4, TokenData};
use amikit_sts::cipher::{Des, Misty1, SAMPLE_TABLES, Sta, TokenCipher};
use amikit_sts::dkga::{Dkga, Dkga02, Dkga04, VendingKey};
use amikit_sts::keys::{
    DecoderKey, EncryptionAlgorithm, KeyExpiry, KeyParameters, KeyRevision, KeySection, KeyType,
    SupplyGroupCode, TariffIndex,
};
use amikit_sts::meter::{Meter, MeterConfig};
use amikit_sts::tid::BaseDate;
use amikit_sts::vend::{NewKey, Vendor};
use zeroize::Zeroize;

const VK02: [u8; 8] = [0x13, 0x57, 0x9B, 0xDF, 0x24, 0x68, 0xAC, 0xE1];
const VK04: [u8; 20] = [
    0x3C, 0x5E, 0x7A, 0x9D, 0xB1, 0xC4, 0xE7, 0xF2, 0x18, 0x2B, 0x4F, 0x63, 0x86, 0x9A, 0xBD, 0xD1,
    0xE5, 0xF9, 0x17, 0x3B,
];
const NEW128: u128 = 0x7E3D_91A5_C2F8_4B6E_D05C_A937_1F84_62EB;

fn params(ea: EncryptionAlgorithm) -> KeyParameters {
    KeyParameters {
        pan: "600727000000000009".parse().unwrap(),
        sgc: SupplyGroupCode::try_from(123_457).unwrap(),
        ti: TariffIndex::try_from(1).unwrap(),
        krn: KeyRevision::try_from(1).unwrap(),
        kt: KeyType::Unique,
        base_date: BaseDate::Y1993,
        ea,
    }
}

fn key_bytes(key: &DecoderKey) -> Vec<u8> {
    let mut buf = [0u8; 16];
    key.to_bytes(&mut buf).to_vec()
}

/// Fails if `text` shows any 3 consecutive bytes of `secret` as hex (either case), or the
/// secret's 4- and 8-byte big-endian words as decimal numbers.
fn assert_hidden(what: &str, text: &str, secret: &[u8]) {
    let lower = text.to_lowercase();
    for w in secret.windows(3) {
        let hex: String = w.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!lower.contains(&hex), "{what} shows {hex}: {text}");
    }
    for chunk in secret.chunks(4).filter(|c| c.len() == 4) {
        let v = u32::from_be_bytes(chunk.try_into().unwrap());
        assert!(!text.contains(&v.to_string()), "{what} shows {v}: {text}");
    }
    for chunk in secret.chunks(8).filter(|c| c.len() == 8) {
        let v = u64::from_be_bytes(chunk.try_into().unwrap());
        assert!(!text.contains(&v.to_string()), "{what} shows {v}: {text}");
    }
}

fn check<T: std::fmt::Debug>(what: &str, value: &T, secret: &[u8]) {
    assert_hidden(what, &format!("{value:?}"), secret);
    assert_hidden(what, &format!("{value:#?}"), secret);
}

#[test]
fn vending_keys_do_not_show_in_debug() {
    let vk02 = VendingKey::new(Dkga::Dkga02, &VK02).unwrap();
    let vk04 = VendingKey::new(Dkga::Dkga04, &VK04).unwrap();
    assert_eq!(format!("{vk02:?}"), "VendingKey(DKGA02, ****)");
    assert_eq!(format!("{vk04:?}"), "VendingKey(DKGA04, ****)");
    check("VendingKey 02", &vk02, &VK02);
    check("VendingKey 04", &vk04, &VK04);
    check("Dkga02", &Dkga02::new(VK02), &VK02);
    check("Dkga04", &Dkga04::new(&VK04).unwrap(), &VK04);
}

#[test]
fn decoder_keys_and_ciphers_do_not_show_in_debug() {
    let vk04 = VendingKey::new(Dkga::Dkga04, &VK04).unwrap();
    let vk02 = VendingKey::new(Dkga::Dkga02, &VK02).unwrap();
    let sta_params = params(EncryptionAlgorithm::Sta);
    let misty_params = params(EncryptionAlgorithm::Misty1);
    let k64 = vk04.derive(&sta_params).unwrap();
    let k128 = vk04.derive(&misty_params).unwrap();
    let kdes = vk02.derive(&params(EncryptionAlgorithm::Des)).unwrap();
    for (name, key) in [("64", &k64), ("128", &k128), ("des", &kdes)] {
        let secret = key_bytes(key);
        check(&format!("DecoderKey {name}"), key, &secret);
        // the vending key does not show through the derived key either
        check(&format!("DecoderKey {name} / vk"), key, &VK04);
    }
    let DecoderKey::Bits64(raw64) = k64 else {
        panic!()
    };
    let DecoderKey::Bits128(raw128) = k128 else {
        panic!()
    };
    let sta = TokenCipher::new(EncryptionAlgorithm::Sta, &k64, Some(&SAMPLE_TABLES)).unwrap();
    let des = TokenCipher::new(EncryptionAlgorithm::Des, &kdes, None).unwrap();
    let misty = TokenCipher::new(EncryptionAlgorithm::Misty1, &k128, None).unwrap();
    check("TokenCipher STA", &sta, &key_bytes(&k64));
    check("TokenCipher DES", &des, &key_bytes(&kdes));
    check("TokenCipher MISTY1", &misty, &key_bytes(&k128));
    check("Sta", &Sta::new(raw64, &SAMPLE_TABLES), &key_bytes(&k64));
    check("Des", &Des::new(raw64), &key_bytes(&k64));
    check("Misty1", &Misty1::from_u128(raw128), &key_bytes(&k128));
    let vendor = Vendor::for_meter(&vk04, &misty_params, None).unwrap();
    check("Vendor", &vendor, &key_bytes(&k128));
    let config = MeterConfig::from_parameters(k128.clone(), &misty_params);
    check("MeterConfig", &config, &key_bytes(&k128));
    let meter = Meter::<4>::new(config, None).unwrap();
    check("Meter", &meter, &key_bytes(&k128));
}

#[test]
fn key_change_sections_do_not_show_in_debug() {
    let new = NewKey {
        key: DecoderKey::Bits128(NEW128),
        kt: KeyType::Unique,
        krn: KeyRevision::try_from(2).unwrap(),
        ken: KeyExpiry::NEVER,
        ti: TariffIndex::try_from(1).unwrap(),
        rollover: false,
        sgc: Some(SupplyGroupCode::try_from(123_457).unwrap()),
    };
    let secret = NEW128.to_be_bytes();
    check("NewKey", &new, &secret);
    // the sections as a meter decodes them from the tokens
    let vk04 = VendingKey::new(Dkga::Dkga04, &VK04).unwrap();
    let p = params(EncryptionAlgorithm::Misty1);
    let current = vk04.derive(&p).unwrap();
    let vendor = Vendor::for_meter(&vk04, &p, None).unwrap();
    let tokens = vendor.key_change(&new).unwrap();
    assert_eq!(tokens.len(), 4);
    let mut meter = Meter::<4>::new(MeterConfig::from_parameters(current, &p), None).unwrap();
    let mut sections = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let accepted = meter.enter(*token, 10 + i as u64).unwrap();
        check("Accepted", &accepted, &secret);
        check("TokenData", &accepted.data, &secret);
        sections.push(accepted.data);
    }
    let bits: Vec<u32> = sections
        .iter()
        .map(|d| match d {
            TokenData::KeyChange1(KeyChange1 { key_bits, .. })
            | TokenData::KeyChange2(KeyChange2 { key_bits, .. })
            | TokenData::KeyChange3(KeyChange3 { key_bits, .. })
            | TokenData::KeyChange4(KeyChange4 { key_bits, .. }) => u32::from(key_bits),
            other => panic!("{other:?}"),
        })
        .collect();
    // the sections really carry the key (so the checks above had something to find)
    let words = [
        (NEW128 >> 96) as u32,
        NEW128 as u32,
        (NEW128 >> 64) as u32,
        (NEW128 >> 32) as u32,
    ];
    assert_eq!(bits, words);
    assert_eq!(meter.config().key, DecoderKey::Bits128(NEW128));
    check("Meter after key change", &meter, &secret);
    check(
        "KeySection",
        &KeySection::from(words[0]),
        &words[0].to_be_bytes(),
    );
}

#[test]
fn key_errors_carry_no_key() {
    let long = [0x5Au8, 0xC3, 0x96, 0x3C, 0xA5, 0x69, 0xF0, 0x0F, 0x77];
    for dkga in [Dkga::Dkga02, Dkga::Dkga04] {
        let e = VendingKey::new(dkga, &long).unwrap_err();
        assert_hidden("KeyError", &e.to_string(), &long);
        assert_hidden("KeyError", &format!("{e:?}"), &long);
    }
    let e = DecoderKey::try_from(&long[..]).unwrap_err();
    assert_hidden("KeyError", &e.to_string(), &long);
    // a key of the wrong size for the algorithm: the message names sizes only
    let k = DecoderKey::Bits128(NEW128);
    let e = TokenCipher::new(EncryptionAlgorithm::Sta, &k, Some(&SAMPLE_TABLES)).unwrap_err();
    assert_hidden("KeyError", &e.to_string(), &NEW128.to_be_bytes());
}

#[test]
fn zeroize_wipes_keys() {
    let mut k = DecoderKey::Bits128(NEW128);
    k.zeroize();
    assert_eq!(k, DecoderKey::Bits128(0));
    let mut k = DecoderKey::try_from(&VK02[..]).unwrap();
    k.zeroize();
    assert_eq!(k, DecoderKey::Bits64(0));
    let mut s = KeySection::from(0xDEAD_BEEF);
    s.zeroize();
    assert_eq!(u32::from(&s), 0);
}

#[test]
fn credit_still_flows_after_the_key_types_lost_copy() {
    // A vendor and a meter built from clones of one key still agree.
    let vk = VendingKey::new(Dkga::Dkga04, &VK04).unwrap();
    let p = params(EncryptionAlgorithm::Misty1);
    let key = vk.derive(&p).unwrap();
    let vendor = Vendor::for_meter(&vk, &p, None).unwrap();
    let mut meter = Meter::<4>::new(MeterConfig::from_parameters(key.clone(), &p), None).unwrap();
    let token = vendor
        .credit(
            CreditKind::Electricity,
            100,
            amikit_sts::vend::Issue::At("2024-01-01T10:00".parse().unwrap()),
            amikit_sts::block::Rnd::try_from(3).unwrap(),
        )
        .unwrap();
    meter.enter(token, 0).unwrap();
    assert_eq!(meter.credit(), 100);
    assert_eq!(meter.config().key, key);
}
