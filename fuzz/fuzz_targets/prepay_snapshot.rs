//! Untrusted snapshot bytes (EEPROM contents after a power failure): parsing never panics, a
//! parsed snapshot re-encodes to the same bytes, and recovery from any set of copies never
//! panics and returns a sealed snapshot with the highest counters of the intact copies.
#![no_main]

use amikit_prepay::{SNAPSHOT_LEN, Snapshot, recover};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut copies = Vec::new();
    for chunk in data.chunks(SNAPSHOT_LEN) {
        if let Ok(s) = Snapshot::from_bytes(chunk) {
            assert!(s.verify());
            assert_eq!(&s.to_bytes()[..], chunk);
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
