//! The trait conversions that replaced the inherent `from_*`/`to_*`/`parse` functions.

use amikit_dlt645::catalogue::Family;
use amikit_dlt645::request::{Auth, BaudRate, OperatorCode, Password};
use amikit_dlt645::{Address, DataId, Di, Di97, RemoteCommand, StatusWord3, ValueError};

#[test]
fn address_conversions_check_their_input() {
    let a = Address::try_from(12_345_678).unwrap();
    assert_eq!(a.to_string(), "000012345678");
    assert_eq!(<[u8; 6]>::from(a), [0x78, 0x56, 0x34, 0x12, 0, 0]);
    assert_eq!(Address::try_from([0x78, 0x56, 0x34, 0x12, 0, 0]), Ok(a));
    assert_eq!("12345678".parse::<Address>(), Ok(a));
    assert!(Address::try_from(1_000_000_000_000).is_err());
    assert!(matches!(
        Address::try_from([0x1F, 0, 0, 0, 0, 0]),
        Err(ValueError::Bcd {
            offset: 0,
            byte: 0x1F
        })
    ));
    assert!(Address::try_from([0xAA; 6]).unwrap().is_wildcard());
    for n in [
        0,
        9,
        10,
        999_999,
        1_000_000,
        123_456_789_012,
        999_999_999_999,
    ] {
        let a = Address::try_from(n).unwrap();
        assert_eq!(a.to_number(), Some(n));
        assert_eq!(a.to_string(), format!("{n:012}"));
    }
}

#[test]
fn identifiers_parse_and_convert() {
    let di: Di = "04000503".parse().unwrap();
    assert_eq!(di, Di(0x0400_0503));
    assert_eq!(<[u8; 4]>::from(di), [0x04, 0x00, 0x05, 0x03]);
    assert_eq!(Di::from([0x04, 0x00, 0x05, 0x03]), di);
    assert_eq!("9010".parse::<Di97>(), Ok(Di97(0x9010)));
    assert_eq!("04000503".parse::<DataId>(), Ok(DataId::V2007(di)));
    assert!("0400050G".parse::<Di>().is_err());
    assert_eq!(Family::from(Di(0x0001_0000)), Family::Energy);
}

#[test]
fn byte_codes_round_trip() {
    for b in 0..=u8::MAX {
        assert_eq!(u8::from(RemoteCommand::from(b)), b);
        assert_eq!(u8::from(BaudRate::from(b)), b);
    }
    assert_eq!(RemoteCommand::from(0x1A), RemoteCommand::Trip);
    assert_eq!(BaudRate::from(0x08), BaudRate::B2400);
    let auth = Auth {
        password: Password::new(2, 123_456),
        operator: OperatorCode([1, 2, 3, 4]),
    };
    assert_eq!(<[u8; 8]>::from(auth), [2, 0x56, 0x34, 0x12, 1, 2, 3, 4]);
    assert_eq!(Auth::from(<[u8; 8]>::from(auth)), auth);
    assert!(StatusWord3::from([0x10, 0]).relay_open());
}
