//! Frame parse under every named profile: link check, header, AUX, every unit and its typed
//! value; never panics, and a parsed frame re-emits byte for byte.
#![no_main]

use amikit_gdw376::walker::Item;
use amikit_gdw376::{Frame, Profile, Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in Profile::NAMES {
        let Some(p) = Profile::by_name(name) else {
            continue;
        };
        let Ok(frame) = Frame::new_checked(data, &p) else {
            continue;
        };
        let Ok(r) = Repr::parse(&frame, &p) else {
            continue;
        };
        let mut out = vec![0u8; r.buffer_len()];
        let n = r.emit(&mut out).expect("re-emit");
        assert_eq!(&out[..n], data);
        for item in r.units(&p) {
            if let Item::Unit(u) = item {
                if let Ok(Some(v)) = u.value(&p, r.afn, r.dir()) {
                    let mut buf = vec![0u8; u.data.len() + 64];
                    let _ = v.emit(&mut buf);
                }
            }
        }
    }
});
