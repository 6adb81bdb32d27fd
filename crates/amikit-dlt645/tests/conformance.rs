//! Conformance: every frame of `tests/vectors/frames.json` (in the repository) and of the outside
//! vector file `dlt645/frames.json` (when present) decodes to what the file expects. Unknown
//! expectation keys fail the test (so that nothing is silently skipped).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::catalogue::{self, v1997};
use amikit_dlt645::deframer::{Deframer, Event};
use amikit_dlt645::{Data, DataId, Decimal, Direction, Edition, Frame};
use serde_json::Value as Json;

fn edition(v: &Json) -> Edition {
    match v.as_str() {
        Some("2007") => Edition::V2007,
        Some("1997") => Edition::V1997,
        other => panic!("unknown version {other:?}"),
    }
}

/// The expected number as an exact decimal: the JSON number's own text (serde_json prints the
/// shortest representation that round-trips, e.g. `0.02`), parsed without floating point.
fn expected_decimal(v: &Json) -> Decimal {
    let text = match v {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.clone(),
        other => panic!("value {other} is not a number"),
    };
    Decimal::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn check_frame(i: usize, entry: &Json, checked: &mut usize) {
    let hex = entry["hex"].as_str().unwrap();
    let bytes = amikit_testkit::hex(hex);
    let ed = edition(&entry["version"]);
    let expect = entry["expect"].as_object().unwrap();
    let ctx = format!("frame {i} ({hex}, {})", entry["source"]);
    let frame = Frame::new_unchecked(&bytes[..]);
    frame.check_len().unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let data = frame.data();
    let di = frame.data_id(ed);
    for (key, want) in expect {
        match key.as_str() {
            "control" => assert_eq!(
                format!("0x{:02X}", frame.control().0),
                want.as_str().unwrap(),
                "{ctx}: control"
            ),
            "address" => assert_eq!(frame.address().to_string(), want.as_str().unwrap(), "{ctx}"),
            "direction" => {
                let d = match frame.control().direction() {
                    Direction::MasterToSlave => "master_to_slave",
                    Direction::SlaveToMaster => "slave_to_master",
                };
                assert_eq!(d, want.as_str().unwrap(), "{ctx}: direction");
            }
            "is_error" => assert_eq!(
                frame.control().is_abnormal(),
                want.as_bool().unwrap(),
                "{ctx}"
            ),
            "has_follow_up_flag" => {
                assert_eq!(
                    frame.control().has_follow_up(),
                    want.as_bool().unwrap(),
                    "{ctx}"
                )
            }
            "data_len" => assert_eq!(u64::from(frame.data_len()), want.as_u64().unwrap(), "{ctx}"),
            "preamble_fe_count" => {
                assert_eq!(frame.preamble_len() as u64, want.as_u64().unwrap(), "{ctx}")
            }
            "checksum_valid" => {
                assert_eq!(
                    frame.checksum_valid(),
                    want.as_bool().unwrap(),
                    "{ctx}: checksum"
                )
            }
            "end_byte_valid" => assert_eq!(frame.end_valid(), want.as_bool().unwrap(), "{ctx}"),
            "data_identifier" => {
                assert_eq!(di.unwrap().to_string(), want.as_str().unwrap(), "{ctx}: DI")
            }
            "payload_after_di_minus33_wire_order" => {
                let (_, payload) = data.split_at(ed.di_len()).unwrap();
                assert_eq!(
                    payload.to_string(),
                    want.as_str().unwrap(),
                    "{ctx}: payload"
                );
            }
            "error_word" => {
                let w = data.get(0).expect("error word");
                assert_eq!(
                    format!("0x{w:02X}"),
                    want.as_str().unwrap(),
                    "{ctx}: error word"
                );
            }
            "values" => {
                let (_, payload) = data.split_at(ed.di_len()).unwrap();
                let wants = want.as_array().unwrap();
                assert_eq!(wants.len(), 1, "{ctx}: one value per single-DI reply");
                let w = &wants[0];
                let (value, unit) = decode(ed, di.unwrap(), payload, &ctx);
                assert!(
                    value.same_value(expected_decimal(&w["value"])),
                    "{ctx}: value {value} != {}",
                    w["value"]
                );
                assert_eq!(unit, w["unit"].as_str(), "{ctx}: unit");
            }
            other => panic!("{ctx}: unknown expectation key {other:?}: extend this test"),
        }
        *checked += 1;
    }
    // A frame is accepted as a whole exactly when checksum and end byte are valid.
    let valid =
        expect["checksum_valid"].as_bool().unwrap() && expect["end_byte_valid"].as_bool().unwrap();
    assert_eq!(
        Frame::new_checked(&bytes[..]).is_ok(),
        valid,
        "{ctx}: new_checked"
    );
    // The deframer finds exactly the valid frames, byte by byte.
    let mut d = Deframer::<512>::new();
    let mut found = 0;
    for b in &bytes {
        d.push(std::slice::from_ref(b));
        while let Some(ev) = d.next() {
            if let Event::Frame(f) = ev {
                assert_eq!(f.bytes(), &bytes[..], "{ctx}");
                found += 1;
            }
        }
    }
    assert_eq!(found, usize::from(valid), "{ctx}: deframer");
}

fn decode(
    ed: Edition,
    di: DataId,
    payload: Data<'_>,
    ctx: &str,
) -> (Decimal, Option<&'static str>) {
    match (ed, di) {
        (Edition::V2007, DataId::V2007(d)) => {
            let e = catalogue::lookup(d).unwrap_or_else(|| panic!("{ctx}: {d} not in catalogue"));
            let v = e.parse(payload).unwrap().unwrap();
            (v.number().unwrap(), e.unit.symbol())
        }
        (Edition::V1997, DataId::V1997(d)) => {
            let e = v1997::lookup(d).unwrap_or_else(|| panic!("{ctx}: {d} not in 1997 table"));
            let v = e.parse(payload).unwrap().unwrap();
            (v.number().unwrap(), e.unit.symbol())
        }
        _ => panic!("{ctx}: DI width does not match edition"),
    }
}

fn check_stream(i: usize, entry: &Json, checked: &mut usize) {
    // `kind: byte_stream`: every frame a resyncing decoder must emit, in order.
    let bytes = amikit_testkit::hex(entry["hex"].as_str().unwrap());
    let want: Vec<Vec<u8>> = entry["expect"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("stream {i}: expect.frames missing: extend this test"))
        .iter()
        .map(|f| amikit_testkit::hex(f.as_str().or_else(|| f["hex"].as_str()).unwrap()))
        .collect();
    for chunk in [1, 3, 7, bytes.len().max(1)] {
        let mut d = Deframer::<1024>::new();
        let mut got = Vec::new();
        for c in bytes.chunks(chunk) {
            let mut rest = c;
            while !rest.is_empty() {
                let n = d.push(rest);
                rest = &rest[n..];
                while let Some(ev) = d.next() {
                    if let Event::Frame(f) = ev {
                        got.push(f.bytes().to_vec());
                    }
                }
            }
        }
        assert_eq!(got, want, "stream {i}, chunk {chunk}");
    }
    *checked += 1;
}

/// The frames of `tests/vectors/frames.json`: copied from MIT-licensed projects (sources and
/// licences in `tests/vectors/LICENSES.md`), so they run on every clone.
#[test]
fn in_repo_frames_decode_as_expected() {
    let json: Json = serde_json::from_str(include_str!("vectors/frames.json")).unwrap();
    check_all("dlt645 conformance (in repository)", &json);
}

/// Every frame of the outside vector folder (skipped with a reason when it is absent).
#[test]
fn shared_frames_decode_as_expected() {
    let Some(json) = amikit_testkit::load_json("dlt645 conformance", "dlt645/frames.json") else {
        return;
    };
    check_all("dlt645 conformance", &json);
}

fn check_all(name: &str, json: &Json) {
    let frames = json["frames"].as_array().expect("frames array");
    assert_eq!(json["count"].as_u64(), Some(frames.len() as u64), "count");
    let mut checked = 0;
    let mut streams = 0;
    for (i, entry) in frames.iter().enumerate() {
        if entry["kind"].as_str() == Some("byte_stream") {
            check_stream(i, entry, &mut checked);
            streams += 1;
        } else {
            check_frame(i, entry, &mut checked);
        }
    }
    println!(
        "{name}: {} vectors ({streams} byte streams), {checked} expectations checked",
        frames.len()
    );
    assert!(!frames.is_empty());
}
