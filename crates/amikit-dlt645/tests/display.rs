//! `Repr`'s `Display` is one line that a console or a log can print for any frame.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use amikit_dlt645::{Address, Body, Data, Di, Edition, ErrorWord, Function, Repr};

fn round_trip(repr: &Repr<'_>) -> String {
    let mut buf = [0u8; 64];
    let n = repr.emit(&mut buf).expect("emit");
    let parsed = Repr::parse_bytes(&buf[..n], Edition::V2007).expect("parse");
    parsed.to_string()
}

#[test]
fn a_read_request_names_its_identifier_and_data_length() {
    let meter = Address::try_from(101).expect("address");
    let read = Repr::read(meter, Di(0x0001_0000));
    assert_eq!(
        round_trip(&read),
        "2007 000000000101 request read 00010000, 4 B"
    );
}

#[test]
fn an_abnormal_reply_shows_the_error_word_flags() {
    let meter = Address::try_from(101).expect("address");
    let abnormal = Repr::new(
        Edition::V2007,
        meter,
        Body::Abnormal {
            function: Function::Read,
            error: ErrorWord(ErrorWord::NO_REQUESTED_DATA),
            extra: Data::EMPTY,
        },
    );
    assert_eq!(
        round_trip(&abnormal),
        "2007 000000000101 abnormal read: 02 (no_requested_data)"
    );
}
