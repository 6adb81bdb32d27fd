//! The data-unit walker and the typed decoders on arbitrary regions, AFNs, directions and
//! profiles: never panics, never desynchronises (items are in order and end exactly at the
//! region's end), and a
//! typed value emits back into as many bytes as it was decoded from.
#![no_main]

use amikit_gdw376::walker::Item;
use amikit_gdw376::{Afn, Direction, Profile, Units};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[afn, flags], region)) = data.split_first_chunk::<2>() else {
        return;
    };
    let dir = if flags & 1 != 0 {
        Direction::Up
    } else {
        Direction::Down
    };
    let name = Profile::NAMES[usize::from(flags >> 1) % Profile::NAMES.len()];
    let p: Profile = name.parse().expect("named profile");
    let afn = Afn(afn % 0x12);
    let base = region.as_ptr() as usize;
    let mut covered = 0usize;
    let mut end = |b: &[u8]| {
        let e = b.as_ptr() as usize - base + b.len();
        assert!(e >= covered, "items out of order");
        covered = e;
    };
    for item in Units::new(region, afn, dir, &p) {
        match item {
            Item::Unit(u) => {
                end(u.data);
                if let Ok(Some(v)) = u.value(&p, afn, dir) {
                    let mut buf = vec![0u8; u.data.len()];
                    let n = v
                        .emit(&mut buf)
                        .expect("a decoded value fits its own length");
                    assert_eq!(n, u.data.len());
                }
            }
            Item::Opaque(o) => end(o.bytes),
            Item::Filler(f) => end(f),
        }
    }
    assert_eq!(covered, region.len());
});
