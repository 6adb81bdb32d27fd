//! The Q/GDW 376.1 deframer on arbitrary chunking: never panics, every frame it returns passes
//! the link check, the frames are the same whether the stream arrives whole or in pieces, and
//! the work (`Stats::examined`) stays linear in the input.
//! Input: `n`, then `n` chunk sizes, then the stream.
#![no_main]

use amikit_gdw376::Profile;
use amikit_gdw376::deframer::Deframer;
use amikit_gdw376::frame::check_link;
use libfuzzer_sys::fuzz_target;

fn run<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let mut d = Deframer::<512>::default();
    let mut frames = Vec::new();
    let (mut bytes, mut pushes) = (0u64, 0u64);
    for piece in pieces {
        bytes += piece.len() as u64;
        let mut rest = piece;
        loop {
            pushes += 1;
            let o = d.push(rest);
            let frame = o.frame.map(<[u8]>::to_vec);
            assert!(o.consumed <= rest.len());
            rest = &rest[o.consumed..];
            match frame {
                Some(f) => {
                    assert_eq!(check_link(&f, &Profile::default()), Ok(f.len()));
                    frames.push(f);
                }
                None => break,
            }
        }
        assert!(rest.is_empty());
    }
    // Linear work: a bounded number of bytes looked at per input byte and per call, plus one
    // buffer turn (512) and the frame itself for each frame returned from the buffer.
    let s = d.stats();
    assert!(
        s.examined <= 8 * bytes + 16 * pushes + 1024 * s.frames,
        "examined {} for {bytes} bytes, {pushes} pushes, {} frames",
        s.examined,
        s.frames
    );
    frames
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(n).min(rest.len()));
    let whole = run(std::iter::once(stream));
    let chunked = run(amikit_fuzz::chunks(stream, sizes));
    assert_eq!(whole, chunked);
});
