//! The codecs allocate nothing per frame: encoding into a `BytesMut` with room and decoding
//! from it (the counting allocator sees every allocation of the process).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::{Address, Di, Repr};
use amikit_io::codec::{Dlt645Codec, Dlt645Item, Gdw376Codec, Gdw376Item};
use amikit_testkit::alloc::CountingAllocator;
use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const LOGIN: [u8; 20] = [
    0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00, 0x00,
    0x01, 0x00, 0xE0, 0x16,
];

#[test]
fn codecs_allocate_nothing_per_frame() {
    let address = "000012345678".parse::<Address>().unwrap();
    let request = Repr::read(address, Di(0x0001_0000));
    let mut dlt = Dlt645Codec::new().with_preamble(4);
    let mut gdw = Gdw376Codec::new();
    let profile = amikit_gdw376::Profile::STRICT_2013;
    let login = amikit_gdw376::Repr::parse_bytes(&LOGIN, &profile).unwrap();
    let mut buf = BytesMut::with_capacity(4096);

    let before = ALLOC.allocations();
    let mut frames = 0u32;
    for _ in 0..1000 {
        dlt.encode(&request, &mut buf).unwrap();
        buf.extend_from_slice(&[0x00, 0x13]); // noise between frames
        while let Some(item) = dlt.decode(&mut buf).unwrap() {
            if let Dlt645Item::Frame(f) = item {
                assert_eq!(f.len(), request.buffer_len() + 4);
                frames += 1;
            }
        }
        gdw.encode(&login, &mut buf).unwrap();
        while let Some(item) = gdw.decode(&mut buf).unwrap() {
            if let Gdw376Item::Frame(f) = item {
                assert_eq!(f.as_bytes(), &LOGIN[..]);
                frames += 1;
            }
        }
        buf.clear();
    }
    let allocations = ALLOC.allocations() - before;
    assert_eq!(frames, 2000);
    assert_eq!(
        allocations, 0,
        "the codecs allocated {allocations} times for 2000 frames"
    );
}
