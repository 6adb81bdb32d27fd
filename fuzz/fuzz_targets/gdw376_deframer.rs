//! The Q/GDW 376.1 deframer on arbitrary chunking: never panics, every frame it returns passes
//! the link check, and the frames are the same whether the stream arrives whole or in pieces.
//! Input: `n`, then `n` chunk sizes, then the stream.
#![no_main]

use amikit_gdw376::Profile;
use amikit_gdw376::deframer::Deframer;
use amikit_gdw376::frame::check_link;
use libfuzzer_sys::fuzz_target;

fn run<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let mut d = Deframer::<512>::new();
    let mut frames = Vec::new();
    for piece in pieces {
        let mut rest = piece;
        loop {
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
