//! The codecs on noisy streams: frames found, every dropped run reported with its reason,
//! encoding identical to `Repr::emit`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::deframer::DropReason;
use amikit_dlt645::{Address, Body, Data, DataId, Di, Edition, Reply, Repr};
use amikit_io::codec::{Dlt645Codec, Dlt645Item, Gdw376Codec, Gdw376Item};
use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

/// A login (AFN 02 F1) of terminal 2201/0008 (the amikit-gdw376 deframer's example).
const LOGIN: [u8; 20] = [
    0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00, 0x00,
    0x01, 0x00, 0xE0, 0x16,
];

fn address() -> Address {
    "000012345678".parse::<Address>().unwrap()
}

fn request_bytes() -> Vec<u8> {
    Repr::read(address(), Di(0x0001_0000)).to_vec().unwrap()
}

fn reply_bytes() -> Vec<u8> {
    Repr::new(
        Edition::V2007,
        address(),
        Body::Reply(Reply::Read {
            di: DataId::V2007(Di(0x0001_0000)),
            data: Data::plain(&[0x45, 0x23, 0x01, 0x00]),
            more: false,
        }),
    )
    .to_vec()
    .unwrap()
}

fn drain<D: Decoder>(codec: &mut D, buf: &mut BytesMut, eof: bool) -> Vec<D::Item>
where
    D::Error: std::fmt::Debug,
{
    let mut items = Vec::new();
    while let Some(item) = codec.decode(buf).unwrap() {
        items.push(item);
    }
    if eof {
        while let Some(item) = codec.decode_eof(buf).unwrap() {
            items.push(item);
        }
    }
    items
}

#[test]
fn dlt645_master_codec_drops_noise_and_echo_and_yields_the_reply() {
    let mut stream = vec![0x11, 0x22, 0x33];
    stream.extend(request_bytes()); // our own request, echoed by the half-duplex line
    stream.extend([0xFE, 0xFE, 0xFE, 0xFE]);
    stream.extend(reply_bytes());
    let mut codec = Dlt645Codec::master();
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    // Byte by byte: every split point.
    for byte in &stream {
        buf.extend_from_slice(&[*byte]);
        items.extend(drain(&mut codec, &mut buf, false));
    }
    let dropped = |want: DropReason| -> usize {
        items
            .iter()
            .map(|i| match i {
                Dlt645Item::Dropped { len, reason } if *reason == want => *len,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(dropped(DropReason::Garbage), 3);
    assert_eq!(dropped(DropReason::OtherDirection), request_bytes().len());
    let frames: Vec<_> = items.iter().filter_map(Dlt645Item::frame).collect();
    assert_eq!(frames.len(), 1);
    let frame = frames[0];
    assert_eq!(frame.preamble_len(), 4);
    let repr = Repr::parse(&frame, Edition::V2007).unwrap();
    assert_eq!(repr.address, address());
    assert!(matches!(repr.body, Body::Reply(Reply::Read { .. })));
    assert_eq!(codec.stats().frames, 1);
}

#[test]
fn dlt645_decode_eof_reports_a_truncated_frame() {
    let reply = reply_bytes();
    let mut buf = BytesMut::from(&reply[..reply.len() - 3]);
    let mut codec = Dlt645Codec::master();
    let items = drain(&mut codec, &mut buf, true);
    assert!(
        items.iter().any(|i| matches!(
            i,
            Dlt645Item::Dropped {
                reason: DropReason::Truncated,
                ..
            }
        )),
        "{items:?}"
    );
    assert!(items.iter().all(|i| i.frame().is_none()));
}

#[test]
fn dlt645_encoder_writes_what_emit_writes_with_the_preamble() {
    let repr = Repr::read(address(), Di(0x0001_0000));
    let mut codec = Dlt645Codec::master().with_preamble(4);
    let mut buf = BytesMut::from(&b"xy"[..]);
    codec.encode(&repr, &mut buf).unwrap();
    let mut expected = b"xy".to_vec();
    expected.extend(repr.with_preamble(4).to_vec().unwrap());
    assert_eq!(&buf[..], &expected[..]);
    // A request too long for its edition is refused and leaves the buffer as it was.
    let long = [0u8; 250];
    let bad = Repr::new(
        Edition::V2007,
        address(),
        Body::Reply(Reply::Read {
            di: DataId::V2007(Di(0x0001_0000)),
            data: Data::plain(&long),
            more: false,
        }),
    );
    assert!(codec.encode(&bad, &mut buf).is_err());
    assert_eq!(&buf[..], &expected[..]);
}

#[test]
fn gdw376_codec_reports_garbage_and_a_bad_checksum_then_yields_the_frame() {
    let mut bad = LOGIN;
    bad[18] ^= 0xFF; // checksum
    let mut stream = vec![0xFE, 0xFE, 0x01];
    stream.extend(bad);
    stream.extend(LOGIN);
    let mut codec = Gdw376Codec::new();
    let mut items = Vec::new();
    let mut buf = BytesMut::new();
    for chunk in stream.chunks(7) {
        buf.extend_from_slice(chunk);
        items.extend(drain(&mut codec, &mut buf, false));
    }
    let frames: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Gdw376Item::Frame(f) => Some(f.as_bytes().to_vec()),
            Gdw376Item::Dropped(_) => None,
        })
        .collect();
    assert_eq!(frames, vec![LOGIN.to_vec()]);
    let (skipped, rejected) = items.iter().fold((0, 0), |(s, r), i| match i {
        Gdw376Item::Dropped(d) => (s + d.skipped, r + d.rejected),
        Gdw376Item::Frame(_) => (s, r),
    });
    assert!(rejected >= 1, "{items:?}");
    assert_eq!(skipped, codec.stats().skipped);
    assert!(skipped >= 3 + bad.len() as u64 - 1, "{items:?}");
}

#[test]
fn gdw376_decode_eof_reports_the_lost_partial_frame() {
    let mut buf = BytesMut::from(&LOGIN[..12]);
    let mut codec = Gdw376Codec::new();
    let items = drain(&mut codec, &mut buf, true);
    assert!(
        matches!(items.as_slice(), [Gdw376Item::Dropped(d)] if d.truncated == 12),
        "{items:?}"
    );
}

#[test]
fn gdw376_encoder_round_trips_a_frame() {
    let profile = amikit_gdw376::Profile::STRICT_2013;
    let repr = amikit_gdw376::Repr::parse_bytes(&LOGIN, &profile).unwrap();
    let mut buf = BytesMut::new();
    Gdw376Codec::new().encode(&repr, &mut buf).unwrap();
    assert_eq!(&buf[..], &LOGIN[..]);
}
