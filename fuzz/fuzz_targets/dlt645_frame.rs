//! DL/T 645 frame parsing: never panics; a parsed frame re-emits byte for byte (or hits a
//! builder policy the parser is lenient about). The checksum would stop most inputs early, so
//! the input is also wrapped into a frame with a correct checksum.
#![no_main]

use amikit_dlt645::{Edition, EncodeError, Frame, Repr};
use libfuzzer_sys::fuzz_target;

fn round_trip(bytes: &[u8]) {
    let Ok(frame) = Frame::new_checked(bytes) else {
        return;
    };
    for edition in [Edition::V2007, Edition::V1997] {
        if let Ok(repr) = Repr::parse(&frame, edition) {
            let mut out = vec![0u8; repr.buffer_len()];
            match repr.emit(&mut out) {
                Ok(n) => assert_eq!(&out[..n], bytes, "{repr:?}"),
                Err(
                    EncodeError::Address { .. }
                    | EncodeError::TooLong { max: 50, .. }
                    | EncodeError::Layout {
                        function: "write_address",
                        ..
                    },
                ) => {}
                Err(e) => panic!("{repr:?}: {e}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. the raw input
    let _ = Frame::parse_prefix(data);
    round_trip(data);
    // 2. [control, address byte seed, plain data…] wrapped into a valid frame
    if let [control, seed, plain @ ..] = data {
        let plain = &plain[..plain.len().min(255)];
        let digit = |i: u8| {
            let v = seed.wrapping_add(i.wrapping_mul(37)) % 100;
            ((v / 10) << 4) | (v % 10)
        };
        let mut f = vec![0x68];
        f.extend((0..6).map(|i| {
            if seed & (1 << i) != 0 && seed & 0x80 != 0 {
                0xAA
            } else {
                digit(i)
            }
        }));
        f.extend([0x68, *control, plain.len() as u8]);
        f.extend(plain.iter().map(|b| b.wrapping_add(0x33)));
        let cs = f.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        f.extend([cs, 0x16]);
        round_trip(&f);
    }
});
