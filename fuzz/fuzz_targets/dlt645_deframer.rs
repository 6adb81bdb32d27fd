//! The push deframer on arbitrary chunking: never panics, and finds the same frames and drops
//! the same number of bytes whether the stream arrives whole or in pieces. Input: `n`, then
//! `n` chunk sizes, then the stream.
#![no_main]

use amikit_dlt645::deframer::{Deframer, Event};
use libfuzzer_sys::fuzz_target;

fn run(pieces: impl Iterator<Item = impl AsRef<[u8]>>) -> (Vec<Vec<u8>>, usize) {
    let mut d = Deframer::<300>::new();
    let mut frames = Vec::new();
    let mut skipped = 0;
    let mut take = |ev: Event<'_>| match ev {
        Event::Frame(f) => {
            assert!(f.check().is_ok());
            frames.push(f.bytes().to_vec());
        }
        Event::Skipped { len, .. } => skipped += len,
    };
    for piece in pieces {
        let mut rest = piece.as_ref();
        while !rest.is_empty() {
            let n = d.push(rest);
            rest = &rest[n..];
            while let Some(ev) = d.next() {
                take(ev);
            }
        }
    }
    d.idle();
    while let Some(ev) = d.next() {
        take(ev);
    }
    assert_eq!(d.buffered(), 0);
    (frames, skipped)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(n).min(rest.len()));
    let whole = run(std::iter::once(stream));
    let chunked = run(amikit_fuzz::chunks(stream, sizes));
    assert_eq!(whole, chunked);
    let total: usize = whole.0.iter().map(Vec::len).sum::<usize>() + whole.1;
    assert_eq!(total, stream.len());
});
