//! Untrusted snapshot bytes (EEPROM contents after a power failure): parsing never panics, a
//! parsed snapshot re-encodes to the same bytes (version 2) or reseals into a version-2 form
//! that parses back to it (version 1), and recovery from any set of copies never panics and
//! returns a sealed snapshot with the highest counters of the intact copies.
#![no_main]

use amikit_prepay::{SNAPSHOT_LEN, SNAPSHOT_V1_LEN, Snapshot, recover};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut copies = Vec::new();
    // The first byte picks the record length: version 2 or version 1.
    let (len, data) = match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => (SNAPSHOT_V1_LEN, rest),
        Some((_, rest)) => (SNAPSHOT_LEN, rest),
        None => (SNAPSHOT_LEN, data),
    };
    for chunk in data.chunks(len) {
        if let Ok(s) = Snapshot::parse(chunk) {
            assert!(s.verify());
            if chunk.len() == SNAPSHOT_LEN {
                assert_eq!(&s.emit()[..], chunk);
            } else {
                assert_eq!(s.charging, None);
                assert_eq!(s.overload_until, None);
            }
            assert_eq!(Snapshot::parse(&s.emit()), Ok(s));
            copies.push(s);
        }
    }
    // Also every copy as a serde-less struct with its checksum recomputed: recovery picks.
    match recover(copies.iter()) {
        Ok(r) => {
            assert!(r.verify());
            let max_seq = copies.iter().map(|c| c.last_sequence).max();
            let max_order = copies.iter().map(|c| c.last_order).max();
            assert_eq!(Some(r.last_sequence), max_seq);
            assert_eq!(Some(r.last_order), max_order);
        }
        Err(_) => assert!(copies.is_empty()),
    }
});
