//! Token text → parse → decode with an arbitrary key under each algorithm: never panics, and
//! whatever decodes re-encodes to the same token. Input: token text, then optionally a NUL
//! byte and key material (first byte picks EA07/EA09/EA11, the rest is the key).
#![no_main]

use amikit_sts::block::TokenData;
use amikit_sts::cipher::{SAMPLE_TABLES, TokenCipher, decode_unencrypted};
use amikit_sts::token::Token;
use libfuzzer_sys::fuzz_target;

fn key_bytes(material: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    for (k, b) in key.iter_mut().zip(material) {
        *k = *b;
    }
    key
}

fuzz_target!(|data: &[u8]| {
    let (text, material) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(token) = Token::parse_bytes(text) else {
        return;
    };
    // Digits and grouping round-trip.
    assert_eq!(Token::parse_bytes(&token.to_digits()), Ok(token));
    assert_eq!(
        Token::parse_bytes(format!("{token:#}").as_bytes()),
        Ok(token)
    );
    assert_eq!(Token::from_block(token.class(), token.block()), token);

    let (selector, key) = material.split_first().unwrap_or((&0, &[]));
    let key = key_bytes(key);
    let k64 = u64::from_be_bytes(key[..8].try_into().unwrap());
    let cipher = match selector % 3 {
        0 => TokenCipher::Sta(amikit_sts::cipher::Sta::new(k64, &SAMPLE_TABLES)),
        1 => TokenCipher::Des(amikit_sts::cipher::Des::new(k64)),
        _ => TokenCipher::Misty1(amikit_sts::cipher::Misty1::from_u128(u128::from_be_bytes(
            key,
        ))),
    };

    // Every block has a lossless typed reading.
    let plain = cipher.plain_block(token);
    let typed = TokenData::from_block(token.class(), plain);
    assert_eq!(typed.first48(), Ok(plain >> 16));

    if let Ok(decoded) = cipher.decode(token) {
        assert_eq!(decoded, typed);
        assert_eq!(cipher.encode(&decoded), Ok(token));
    }
    if let Ok(plain_data) = decode_unencrypted(token) {
        assert!(!token.class().is_encrypted());
        assert_eq!(
            amikit_sts::cipher::encode_meter_test(match &plain_data {
                TokenData::MeterTest(t) => t,
                _ => return,
            }),
            Ok(token)
        );
    }
});
