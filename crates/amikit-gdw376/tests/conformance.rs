#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Conformance over `tests/vectors/frames.json` (in the repository: frames whose source licence
//! allows copying) and the outside `gdw376/frames.json` when present (real frames from public
//! projects; every expectation names its source). Frames flagged as dialect variants decode
//! under the named profile.

use amikit_gdw376::units::{Erc, Value};
use amikit_gdw376::walker::{Item, OpaqueReason};
use amikit_gdw376::{Direction, Frame, InfoClass, Profile, Repr, Version};
use serde_json::Value as J;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Strips trailing zeros so that "1.700" and JSON's 1.7 compare as text (no floats involved).
fn norm(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

fn jnum(v: &J) -> String {
    norm(&v.to_string())
}

/// The profile a vector names: 2-byte PW and no-PW-on-0F variants, else strict 2013.
fn profile_for(f: &J) -> (Profile, &'static str) {
    let notes = f["notes"].as_str().unwrap_or("");
    if notes.contains("VARIANT: PW is 2 bytes") {
        (Profile::PW2, "pw2")
    } else if notes.contains("VARIANT: no PW") {
        (Profile::NO_PW_FILE_FORWARD, "no-pw-0f-10")
    } else {
        (Profile::STRICT_2013, "2013")
    }
}

/// The frames of `tests/vectors/frames.json`, copied from projects whose licence allows it
/// (sources in `tests/vectors/LICENSES.md`), so they run on every clone.
#[test]
fn in_repo_vectors_decode_as_expected() {
    let doc: J = serde_json::from_str(include_str!("vectors/frames.json")).unwrap();
    check_all("gdw376 conformance (in repository)", &doc, 1);
}

/// Every frame of the outside vector folder (skipped with a reason when it is absent).
#[test]
fn every_vector_decodes_as_expected() {
    let Some(doc) = amikit_testkit::load_json("gdw376 conformance", "gdw376/frames.json") else {
        return;
    };
    check_all("gdw376 conformance", &doc, 52);
}

fn check_all(name: &str, doc: &J, at_least: usize) {
    let frames = doc["frames"].as_array().unwrap();
    let mut checked = 0;
    let mut variants = 0;
    let mut values_checked = 0;
    for f in frames {
        let id = f["id"].as_str().unwrap();
        let bytes = amikit_testkit::hex(f["hex"].as_str().unwrap());
        let e = &f["expect"];
        let (profile, pname) = profile_for(f);
        if pname != "2013" {
            variants += 1;
        }
        let frame =
            Frame::new_checked(&bytes[..], &profile).unwrap_or_else(|err| panic!("{id}: {err}"));
        assert_eq!(
            frame.user_len() as u64,
            e["length_L"].as_u64().unwrap(),
            "{id} L"
        );
        assert_eq!(
            u64::from(frame.protocol_id()),
            e["protocol_id"].as_u64().unwrap(),
            "{id} pid"
        );
        assert_eq!(
            format!("{:02X}", frame.checksum()),
            e["checksum"].as_str().unwrap(),
            "{id} cs"
        );
        let r = Repr::parse(&frame, &profile).unwrap_or_else(|err| panic!("{id}: {err}"));
        // Control field.
        assert_eq!(
            format!("{:02X}", r.control.0),
            e["C"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            u64::from(r.control.dir() == Direction::Up),
            e["dir"].as_u64().unwrap(),
            "{id} dir"
        );
        assert_eq!(
            u64::from(r.control.prm()),
            e["prm"].as_u64().unwrap(),
            "{id} prm"
        );
        assert_eq!(
            u64::from(u8::from(r.control.function())),
            e["function_code"].as_u64().unwrap(),
            "{id} fn code"
        );
        if r.control.dir() == Direction::Up {
            assert_eq!(
                u64::from(r.control.acd()),
                e["acd"].as_u64().unwrap(),
                "{id} acd"
            );
            assert_eq!(
                u64::from(r.control.fcv()),
                e["d4_reserved"].as_u64().unwrap(),
                "{id} d4"
            );
        } else {
            assert_eq!(
                u64::from(r.control.fcb_acd()),
                e["fcb"].as_u64().unwrap(),
                "{id} fcb"
            );
            assert_eq!(
                u64::from(r.control.fcv()),
                e["fcv"].as_u64().unwrap(),
                "{id} fcv"
            );
        }
        // Address.
        assert_eq!(
            format!("{:04X}", r.address.a1),
            e["A1"].as_str().unwrap(),
            "{id} A1"
        );
        assert_eq!(
            u64::from(r.address.a2),
            e["A2"].as_u64().unwrap(),
            "{id} A2"
        );
        assert_eq!(
            format!("{:02X}", r.address.a3()),
            e["A3"].as_str().unwrap(),
            "{id} A3"
        );
        assert_eq!(
            u64::from(r.address.msa),
            e["MSA"].as_u64().unwrap(),
            "{id} MSA"
        );
        assert_eq!(
            u64::from(r.address.group),
            e["group_address"].as_u64().unwrap(),
            "{id} group"
        );
        // AFN, SEQ.
        assert_eq!(
            format!("{:02X}", r.afn.0),
            e["AFN"].as_str().unwrap(),
            "{id} AFN"
        );
        let s = &e["SEQ"];
        assert_eq!(
            format!("{:02X}", r.seq.0),
            s["raw"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(u64::from(r.seq.tpv()), s["TpV"].as_u64().unwrap(), "{id}");
        assert_eq!(u64::from(r.seq.fir()), s["FIR"].as_u64().unwrap(), "{id}");
        assert_eq!(u64::from(r.seq.fin()), s["FIN"].as_u64().unwrap(), "{id}");
        assert_eq!(u64::from(r.seq.con()), s["CON"].as_u64().unwrap(), "{id}");
        assert_eq!(
            u64::from(r.seq.seq()),
            s["PSEQ_RSEQ"].as_u64().unwrap(),
            "{id}"
        );
        // AUX.
        let aux = &e["AUX"];
        match (&aux["PW"], r.pw) {
            (J::String(pw), Some(got)) => assert_eq!(&hex(got), pw, "{id} PW"),
            (J::Null, None) => {}
            (want, got) => panic!("{id}: PW {want:?} vs {got:?}"),
        }
        assert!(r.ec.is_none() == aux["EC"].is_null(), "{id} EC");
        match (&aux["Tp"], r.tp) {
            (J::Null, None) => {}
            (tp, Some(got)) => {
                assert_eq!(
                    hex(&<[u8; 6]>::from(got)),
                    tp["raw"].as_str().unwrap(),
                    "{id} Tp"
                );
                assert_eq!(u64::from(got.pfc), tp["pfc"].as_u64().unwrap());
                assert_eq!(u64::from(got.delay_min), tp["delay_min"].as_u64().unwrap());
                let t = got.send_time().unwrap();
                assert_eq!(u64::from(t.second), tp["ss"].as_u64().unwrap());
                assert_eq!(u64::from(t.minute), tp["mm"].as_u64().unwrap());
                assert_eq!(u64::from(t.hour), tp["hh"].as_u64().unwrap());
                assert_eq!(u64::from(t.day), tp["DD"].as_u64().unwrap());
            }
            (want, got) => panic!("{id}: Tp {want:?} vs {got:?}"),
        }
        // Data-unit region and its DA/DT groups (strict pn/Fn reading, as the file states).
        assert_eq!(
            hex(r.units),
            e["data_units_hex"].as_str().unwrap(),
            "{id} units"
        );
        let items: Vec<Item> = r.units(&profile).collect();
        let mut groups = Vec::new();
        for it in &items {
            let d = match it {
                Item::Unit(u) => Some(u.dadt),
                Item::Opaque(o) => o.dadt,
                Item::Filler(_) => None,
            };
            if let Some(d) = d
                && groups.last() != Some(&d)
            {
                groups.push(d);
            }
        }
        let want = e["data_units"].as_array().unwrap();
        assert_eq!(groups.len(), want.len(), "{id} groups {items:?}");
        for (g, w) in groups.iter().zip(want) {
            let b = g.to_bytes();
            assert_eq!(hex(&b[..2]), w["DA"].as_str().unwrap(), "{id}");
            assert_eq!(hex(&b[2..]), w["DT"].as_str().unwrap(), "{id}");
            let pns: Vec<u64> = g.pns().map(|p| u64::from(p.0)).collect();
            let fns: Vec<u64> = g.fns().map(|f| u64::from(f.0)).collect();
            let wp: Vec<u64> = w["pn"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let wf: Vec<u64> = w["Fn"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(pns, wp, "{id} pn");
            assert_eq!(fns, wf, "{id} Fn");
        }
        // Byte-exact re-emit.
        let mut out = vec![0u8; r.buffer_len()];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &bytes[..], "{id} re-emit");
        values_checked += check_values(id, f, &r, &profile);
        checked += 1;
    }
    assert_eq!(checked, frames.len());
    assert!(
        checked >= at_least,
        "expected at least {at_least} frames in the file, got {checked}"
    );
    println!(
        "{name}: {checked} frames checked ({variants} under a dialect profile), {values_checked} with typed values compared"
    );
}

fn first_value<'a>(r: &Repr<'a>, p: &Profile) -> (InfoClass, Value<'a>) {
    try_first_value(r, p).unwrap_or_else(|| panic!("no typed unit in {:?}", r.units))
}

fn try_first_value<'a>(r: &Repr<'a>, p: &Profile) -> Option<(InfoClass, Value<'a>)> {
    for it in r.units(p) {
        if let Item::Unit(u) = it {
            let v = u
                .value(p, r.afn, r.dir())
                .unwrap_or_else(|e| panic!("{e} in {u:?}"))?;
            return Some((u.fn_, v));
        }
    }
    None
}

/// Compares the hand-decoded `values` of a vector with the typed decode; returns 1 if compared.
fn check_values(id: &str, f: &J, r: &Repr, p: &Profile) -> usize {
    let v = &f["expect"]["values"];
    let afn = r.afn.0;
    let up = r.dir() == Direction::Up;
    match (afn, up) {
        (0x00, _) if id == "gdw376-018" => {
            // Strict: F1 followed by unexplained bytes is flagged (opaque); with the
            // `trailing-fill` leniency the six zero bytes are filler.
            let strict: Vec<Item> = r.units(p).collect();
            assert!(
                matches!(strict[0], Item::Opaque(ref o) if o.reason == OpaqueReason::LengthMismatch)
            );
            let lenient: Vec<Item> = r.units(&Profile::LENIENT).collect();
            assert!(matches!(lenient[0], Item::Unit(ref u) if u.fn_ == InfoClass(1)));
            assert_eq!(
                lenient[1],
                Item::Filler(
                    &amikit_testkit::hex(v["trailing_bytes_after_DADT"].as_str().unwrap())[..]
                )
            );
            1
        }
        (0x00, _) if id == "gdw376-019" => {
            let lp = Profile::LENIENT;
            let (fn_, val) = first_value(r, &lp);
            assert_eq!(fn_, InfoClass(3));
            let Value::ItemResults(items) = val else {
                panic!("{id}")
            };
            assert_eq!(
                format!("{:02X}", items.afn.0),
                v["confirmed_AFN"].as_str().unwrap()
            );
            let want = v["items"].as_array().unwrap();
            let got: Vec<_> = items.iter().collect();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                let b = g.dadt.to_bytes();
                assert_eq!(hex(&b[..2]), w["DA"].as_str().unwrap());
                assert_eq!(hex(&b[2..]), w["DT"].as_str().unwrap());
                assert_eq!(u64::from(g.err), w["err"].as_u64().unwrap());
            }
            1
        }
        (0x04, false) | (0x0A, true) => {
            let Some((fn_, val)) = try_first_value(r, p) else {
                return 0;
            };
            match (fn_.0, val) {
                (1, Value::CommParams(c)) => {
                    assert_eq!(
                        u64::from(c.rts_20ms),
                        v.get("RTS_20ms_units")
                            .or(v.get("RTS"))
                            .unwrap()
                            .as_u64()
                            .unwrap()
                    );
                    assert_eq!(
                        u64::from(c.master_delay_min),
                        v["master_allowed_delay_min"].as_u64().unwrap()
                    );
                    assert_eq!(
                        hex(&c.timeout_retry.to_le_bytes()),
                        v["timeout_retry_raw"].as_str().unwrap()
                    );
                    assert_eq!(
                        u64::from(c.heartbeat_min),
                        v["heartbeat_min"].as_u64().unwrap()
                    );
                    assert_eq!(
                        format!("{:02X}", c.con_flags),
                        v["con_flags"].as_str().unwrap()
                    );
                    let strict = if v["timeout_s_strict"].is_null() {
                        &v["strict_decode"]["timeout_s"]
                    } else {
                        &v["timeout_s_strict"]
                    };
                    assert_eq!(u64::from(c.timeout_s()), strict.as_u64().unwrap());
                    if let Some(src) = v.get("source_decoded_as") {
                        let (t, n) = c.split_bytes();
                        assert_eq!(u64::from(t), src["timeout_s"].as_u64().unwrap());
                        assert_eq!(u64::from(n), src["retries"].as_u64().unwrap());
                    }
                    1
                }
                (3, Value::MasterAddresses(m)) => {
                    let ip = |a: [u8; 4], port: u16| {
                        format!("{}.{}.{}.{}:{port}", a[0], a[1], a[2], a[3])
                    };
                    assert_eq!(ip(m.main_ip, m.main_port), v["main"].as_str().unwrap());
                    assert_eq!(
                        ip(m.backup_ip, m.backup_port),
                        v["backup"].as_str().unwrap()
                    );
                    assert_eq!(m.apn_str(), v["APN"].as_str().unwrap());
                    1
                }
                (10, Value::MeterTable(t)) => {
                    assert_eq!(t.len() as u64, v["count"].as_u64().unwrap(), "{id}");
                    if let Some(pns) = v.get("meter_pns") {
                        let got: Vec<u64> = t.iter().map(|m| u64::from(m.pn)).collect();
                        let want: Vec<u64> = pns
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_u64().unwrap())
                            .collect();
                        assert_eq!(got, want);
                    }
                    if let Some(ms) = v.get("meters") {
                        let m = t.iter().next().unwrap();
                        let w = &ms[0];
                        assert_eq!(u64::from(m.seq), w["seq"].as_u64().unwrap());
                        assert_eq!(u64::from(m.pn), w["pn"].as_u64().unwrap());
                        assert_eq!(u64::from(m.baud_index()), w["baud_index"].as_u64().unwrap());
                        assert_eq!(u64::from(m.port()), w["port"].as_u64().unwrap());
                        assert_eq!(u64::from(m.protocol), w["protocol"].as_u64().unwrap());
                        assert_eq!(hex(&m.address), w["address"].as_str().unwrap());
                        assert_eq!(hex(&m.collector), w["collector"].as_str().unwrap());
                    }
                    1
                }
                _ => 0,
            }
        }
        (0x05, false) => {
            let (fn_, val) = first_value(r, p);
            assert_eq!(fn_, InfoClass(31));
            let Value::ClockSync(Some(c)) = val else {
                panic!("{id}")
            };
            assert_eq!(c.to_string(), v["clock"]["datetime"].as_str().unwrap());
            assert_eq!(
                u64::from(c.weekday),
                v["clock"]["weekday"].as_u64().unwrap()
            );
            assert_eq!(hex(r.pw.unwrap()), v["PW"].as_str().unwrap());
            1
        }
        (0x0C, true) => check_class1(id, v, r, p),
        (0x0D, _) if id == "gdw376-069" => {
            // The first register is `00 EE EE EE EE`: neither a number nor the absent marker, so
            // the typed decode must fail at offset 9 (Td 3 + time 5 + M 1); the label, time and M
            // before it decode.
            let Some(Item::Unit(u)) = r.units(p).next() else {
                panic!("{id}")
            };
            let err = u.value(p, r.afn, r.dir()).unwrap_err();
            assert!(
                matches!(err, amikit_gdw376::UnitError::Format { offset: 9, .. }),
                "{err:?}"
            );
            use amikit_gdw376::format::{DataFormat, Format15, Format20};
            assert_eq!(
                Format20::parse(&u.data[..3]).unwrap().to_string(),
                v["Td_d"].as_str().unwrap()
            );
            assert_eq!(
                Format15::parse(&u.data[3..8]).unwrap().to_string(),
                v["read_time"].as_str().unwrap()
            );
            assert_eq!(u64::from(u.data[8]), v["M"].as_u64().unwrap());
            1
        }
        (0x0D, _) => {
            let (_, val) = first_value(r, p);
            let label = match val {
                Value::FrozenRequest(l) => l,
                Value::FrozenEnergy { label, registers } => {
                    assert_eq!(
                        registers.read_time.unwrap().to_string(),
                        v["read_time"].as_str().unwrap()
                    );
                    assert_eq!(registers.tariffs() as u64, v["M"].as_u64().unwrap());
                    if let Some(t) = v.get("forward_active_total_kWh") {
                        assert_eq!(norm(&registers.active.get(0).unwrap().to_string()), jnum(t));
                    }
                    label
                }
                other => panic!("{id}: {other:?}"),
            };
            match label {
                amikit_gdw376::units::TimeLabel::Day(d) => {
                    assert_eq!(d.unwrap().to_string(), v["Td_d"].as_str().unwrap())
                }
                amikit_gdw376::units::TimeLabel::Month(m) => {
                    assert_eq!(m.unwrap().to_string(), v["Td_m"].as_str().unwrap())
                }
                other => panic!("{id}: {other:?}"),
            }
            1
        }
        (0x0E, true) => {
            let (_, val) = first_value(r, p);
            let Value::Events(b) = val else {
                panic!("{id}")
            };
            assert_eq!(u64::from(b.ec1), v["EC1"].as_u64().unwrap());
            assert_eq!(u64::from(b.ec2), v["EC2"].as_u64().unwrap());
            assert_eq!(u64::from(b.pm), v["Pm"].as_u64().unwrap());
            assert_eq!(u64::from(b.pn), v["Pn"].as_u64().unwrap());
            let want = v["events"].as_array().unwrap();
            let recs: Vec<_> = b.records().collect();
            assert_eq!(recs.len(), want.len(), "{id}");
            for ((rec, w), ev) in recs.iter().zip(want).zip(b.events()) {
                assert_eq!(u64::from(rec.erc), w["ERC"].as_u64().unwrap());
                assert_eq!(rec.data.len() as u64, w["Le"].as_u64().unwrap());
                if let Some(raw) = w.get("raw") {
                    assert_eq!(&hex(rec.data), raw.as_str().unwrap());
                }
                match ev {
                    Erc::PowerOffOn { off, on } => {
                        assert_eq!(off.unwrap().to_string(), w["power_off"].as_str().unwrap());
                        assert_eq!(on.unwrap().to_string(), w["power_on"].as_str().unwrap());
                    }
                    Erc::VoltageLimit { time, .. } | Erc::Other { time, .. } => {
                        if let Some(t) = w.get("time") {
                            assert_eq!(time.unwrap().to_string(), t.as_str().unwrap());
                        }
                    }
                    other => panic!("{id}: {other:?}"),
                }
            }
            1
        }
        (0x0F, _) => {
            let (_, val) = first_value(r, p);
            match val {
                Value::FileSegment(s) => {
                    assert_eq!(u64::from(s.file_id), v["file_id"].as_u64().unwrap());
                    assert_eq!(u64::from(s.attr), v["file_attr"].as_u64().unwrap());
                    assert_eq!(u64::from(s.cmd), v["file_cmd"].as_u64().unwrap());
                    assert_eq!(u64::from(s.segments), v["total_segments"].as_u64().unwrap());
                    assert_eq!(u64::from(s.index), v["segment"].as_u64().unwrap());
                    assert_eq!(s.data.len() as u64, v["segment_len"].as_u64().unwrap());
                    assert_eq!(hex(s.data), v["data"].as_str().unwrap());
                }
                Value::FileAck(i) => assert_eq!(u64::from(i), v["segment_ack"].as_u64().unwrap()),
                other => panic!("{id}: {other:?}"),
            }
            1
        }
        (0x10, true) => {
            let (_, val) = first_value(r, p);
            let Value::ForwardReply(fr) = val else {
                panic!("{id}")
            };
            assert_eq!(u64::from(fr.port), v["port"].as_u64().unwrap());
            assert_eq!(fr.payload.len() as u64, v["length"].as_u64().unwrap());
            assert_eq!(hex(fr.payload), v["forwarded_frame"].as_str().unwrap());
            #[cfg(feature = "dlt645")]
            {
                // The forwarded DL/T 645 frame, through amikit-dlt645.
                let inner = fr
                    .inner_645()
                    .unwrap_or_else(|e| panic!("{id}: inner 645: {e}"));
                if let Some(w) = v.get("inner_645") {
                    assert_eq!(inner.address().to_string(), w["address"].as_str().unwrap());
                    assert_eq!(
                        format!("{:02X}", inner.control().0),
                        w["control"].as_str().unwrap()
                    );
                    assert_eq!(u64::from(inner.data_len()), w["len"].as_u64().unwrap());
                    assert_eq!(hex(&inner.data_raw()[..2]), w["DI_raw"].as_str().unwrap());
                }
            }
            1
        }
        _ => 0,
    }
}

fn check_class1(id: &str, v: &J, r: &Repr, p: &Profile) -> usize {
    let unit = r.units(p).find_map(|i| match i {
        Item::Unit(u) => Some(u),
        _ => None,
    });
    match id {
        // F167, 46 bytes: known length under 2013, typed (the ten 2009 fields, then five raw
        // bytes); this terminal's unit holds non-BCD bytes where the energy registers lie, so
        // strict decoding refuses it naming the field; opaque under 2009.
        "gdw376-059" => {
            let u = unit.expect("F167 unit under 2013");
            assert_eq!(u.data.len() as u64, v["data_unit_length"].as_u64().unwrap());
            assert!(
                matches!(
                    u.value(p, r.afn, r.dir()),
                    Err(amikit_gdw376::UnitError::Format { offset: 29, .. })
                ),
                "{:?}",
                u.value(p, r.afn, r.dir())
            );
            // Its read time is the file's (2018-08-28 16:20).
            let t = <amikit_gdw376::format::Format15 as amikit_gdw376::format::DataFormat>::parse(
                &u.data[..5],
            )
            .unwrap();
            assert_eq!(
                (t.year, t.month, t.day, t.hour, t.minute),
                (18, 8, 28, 16, 20)
            );
            let p9 = Profile {
                version: Version::V2009,
                ..*p
            };
            let items: Vec<Item> = r.units(&p9).collect();
            assert!(
                matches!(items.as_slice(), [Item::Opaque(o)] if o.reason == OpaqueReason::LengthMismatch),
                "{items:?}"
            );
            return 1;
        }
        // F168 in a short, provincial layout: opaque, never a mis-split.
        "gdw376-061" => {
            assert!(unit.is_none());
            let items: Vec<Item> = r.units(p).collect();
            assert!(matches!(items.as_slice(), [Item::Opaque(_)]), "{items:?}");
            return 1;
        }
        _ => {}
    }
    let u = unit.unwrap_or_else(|| panic!("{id}: no unit"));
    let value = u.value(p, r.afn, r.dir());
    match u.fn_.0 {
        2 => {
            let Ok(Some(Value::Clock(Some(c)))) = value else {
                panic!("{id}")
            };
            assert_eq!(c.to_string(), v["clock"]["datetime"].as_str().unwrap());
            assert_eq!(
                u64::from(c.weekday),
                v["clock"]["weekday"].as_u64().unwrap()
            );
            1
        }
        25 => {
            // gdw376-052 has EF filler: strict decoding must reject it; `ef-absent` reads it as
            // absent.
            let rt = if id == "gdw376-052" {
                assert!(value.is_err(), "{id}: EF filler must not decode strictly");
                let lp = Profile::LENIENT;
                let Ok(Some(Value::Realtime(rt))) = u.value(&lp, r.afn, r.dir()) else {
                    panic!("{id}")
                };
                let rt = rt.get();
                assert!(
                    rt.neutral_current.is_none() && rt.apparent_power.iter().all(Option::is_none)
                );
                rt
            } else {
                let Ok(Some(Value::Realtime(rt))) = value else {
                    panic!("{id}: {value:?}")
                };
                rt.get()
            };
            assert_eq!(
                rt.read_time.unwrap().to_string(),
                v["read_time"].as_str().unwrap()
            );
            let check = |key: &str, got: Option<String>| {
                if let Some(w) = v.get(key) {
                    assert_eq!(got.map(|s| norm(&s)), Some(jnum(w)), "{id} {key}");
                }
            };
            let s = |x: Option<String>| x;
            check("P_total_kW", s(rt.active_power[0].map(|x| x.to_string())));
            check("P_a_kW", s(rt.active_power[1].map(|x| x.to_string())));
            check("P_b_kW", s(rt.active_power[2].map(|x| x.to_string())));
            check("P_c_kW", s(rt.active_power[3].map(|x| x.to_string())));
            check(
                "Q_total_kvar",
                s(rt.reactive_power[0].map(|x| x.to_string())),
            );
            check("PF_total_pct", s(rt.power_factor[0].map(|x| x.to_string())));
            check("PF_a_pct", s(rt.power_factor[1].map(|x| x.to_string())));
            check("U_a_V", s(rt.voltage[0].map(|x| x.to_string())));
            check("U_b_V", s(rt.voltage[1].map(|x| x.to_string())));
            check("U_c_V", s(rt.voltage[2].map(|x| x.to_string())));
            check("I_a_A", s(rt.current[0].map(|x| x.to_string())));
            check("I_b_A", s(rt.current[1].map(|x| x.to_string())));
            check("I_c_A", s(rt.current[2].map(|x| x.to_string())));
            1
        }
        33 => {
            let Ok(Some(Value::EnergyRegisters(e))) = value else {
                panic!("{id}")
            };
            assert_eq!(
                e.read_time.unwrap().to_string(),
                v["read_time"].as_str().unwrap()
            );
            assert_eq!(e.tariffs() as u64, v["M"].as_u64().unwrap());
            assert_eq!(
                norm(&e.active.get(0).unwrap().to_string()),
                jnum(&v["forward_active_total_kWh"])
            );
            let rates = v["forward_active_rates_kWh"].as_array().unwrap();
            for (i, want) in rates.iter().enumerate() {
                assert!(want.is_null() && e.active.get(i + 1).is_none());
            }
            1
        }
        129 => {
            let Ok(Some(Value::ActiveEnergy(e))) = value else {
                panic!("{id}")
            };
            assert_eq!(
                e.read_time.unwrap().to_string(),
                v["read_time"].as_str().unwrap()
            );
            assert_eq!(e.tariffs() as u64, v["M"].as_u64().unwrap());
            assert_eq!(norm(&e.total().unwrap().to_string()), jnum(&v["total_kWh"]));
            assert!(
                v["rates_kWh"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .all(|(i, w)| w.is_null() && e.values.get(i + 1).is_none())
            );
            1
        }
        _ => 0,
    }
}
