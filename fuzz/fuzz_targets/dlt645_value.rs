//! Value decoding: every catalogue format, block walking and the number/time decoders on
//! arbitrary bytes never panic; numbers that decode re-encode to the same bytes.
#![no_main]

use amikit_dlt645::catalogue::{self, v1997};
use amikit_dlt645::value::{Format, Kind, TimeLayout, emit_number, parse_number};
use amikit_dlt645::{Data, Di, Di97};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let di = Di(u32::from_be_bytes(*head));
    let value = Data::plain(body);
    if let Some(entry) = catalogue::lookup(di) {
        let _ = entry.parse(value);
    }
    let _ = catalogue::parse_block(di, value).take(300).count();
    if let Some(e) = v1997::lookup(Di97(u16::from_be_bytes([head[0], head[1]]))) {
        let _ = e.parse(value);
    }
    let len = usize::from(head[2] % 9) + 1;
    let decimals = head[3] % 8;
    let signed = head[3] & 0x80 != 0;
    let part = &body[..body.len().min(len)];
    if let Ok(d) = parse_number(Data::plain(part), decimals, signed) {
        let mut out = [0u8; 9];
        let n = emit_number(d, part.len() as u8, decimals, signed, &mut out).unwrap();
        // -0 re-encodes as +0; everything else byte for byte
        if d.mantissa != 0 {
            assert_eq!(&out[..n], part);
        }
    }
    for layout in [
        TimeLayout::YyMmDdHhMmSs,
        TimeLayout::YyMmDdHhMm,
        TimeLayout::YyMmDdWw,
        TimeLayout::HhMmSs,
        TimeLayout::MmDdHhMm,
        TimeLayout::DdHh,
    ] {
        let _ = Format::from(layout).parse(value);
    }
    let _ = Format {
        kind: Kind::Demand { signed },
        len: 8,
    }
    .parse(value);
    let _ = Format {
        kind: Kind::Digits,
        len: 0,
    }
    .parse(value);
});
