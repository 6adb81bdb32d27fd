//! `amikit gdw376`: decode Q/GDW 376.1 frames and build master-station requests.
//!
//! [`decode_bytes`] is shared with `amikit decode`. A forwarded DL/T 645 frame (AFN 10 F1) is
//! decoded under `inner` by the DL/T 645 module's `frame_json`, so its keys are those of
//! `amikit dlt645 decode`.

use amikit_gdw376::address::Address;
use amikit_gdw376::control::Direction;
use amikit_gdw376::deframer::Deframer;
use amikit_gdw376::format::Format16;
use amikit_gdw376::units::{GuardOn, RemoteTrip, UnitLayout as _, Value, Writer};
use amikit_gdw376::walker::{Item, OpaqueReason};
use amikit_gdw376::{Afn, Control, Frame, FrameBuilder, InfoClass, Pn, Profile, Repr, Seq, Tp};
use serde_json::{Value as Json, json};

use crate::error::CliError;
use crate::input;
use crate::output::Printer;

/// Arguments of `amikit gdw376`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Decode one Q/GDW 376.1 frame.
    Decode(DecodeArgs),
    /// Build a master-station request and print it as hex.
    Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// Hex bytes (spaces allowed); standard input when absent or `-`.
    input: Vec<String>,
    /// Dialect profile: 2013 (default), 2009, pw2, no-pw-0f-10, lenient, lenient-2013, addr7.
    #[arg(long, default_value = "2013")]
    profile: String,
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    #[command(subcommand)]
    what: BuildKind,
    /// Region code A1 as printed (4 digits, e.g. `0171`).
    #[arg(long, global = true, default_value = "0000")]
    a1: String,
    /// Terminal address A2 (decimal, 1–65535).
    #[arg(long, global = true, default_value_t = 1)]
    a2: u32,
    /// Master-station address MSA (1–127).
    #[arg(long, global = true, default_value_t = 1)]
    msa: u8,
    /// PFC (its low nibble is PSEQ).
    #[arg(long, global = true, default_value_t = 1)]
    pfc: u8,
    /// Add Tp with this send time, `DDThh:mm:ss` (day of month and time).
    #[arg(long, global = true)]
    tp: Option<String>,
    /// Allowed delay written in Tp, minutes.
    #[arg(long, global = true, default_value_t = 5)]
    delay: u8,
    /// Dialect profile (PW length, address width).
    #[arg(long, global = true, default_value = "2013")]
    profile: String,
}

#[derive(Debug, clap::Subcommand)]
enum BuildKind {
    /// AFN 05 F1 remote trip of a control round (PW all zero).
    Trip {
        /// Control round (pn).
        #[arg(long, default_value_t = 1)]
        round: u16,
        /// Alarm delay before the trip, minutes (0–15).
        #[arg(long, default_value_t = 0)]
        alarm_delay: u8,
        /// Power-limit time, half hours (0–15; 0 = until allowed to close).
        #[arg(long, default_value_t = 0)]
        limit: u8,
    },
    /// AFN 05 F2 allow close of a control round.
    AllowClose {
        /// Control round (pn).
        #[arg(long, default_value_t = 1)]
        round: u16,
    },
    /// AFN 05 F25 keep-supply (guard, 保电) on.
    GuardOn {
        /// Duration in half hours (0 = until guard off).
        #[arg(long, default_value_t = 0)]
        half_hours: u8,
    },
    /// AFN 0C realtime read (default F25: P, Q, PF, U, I) of a measurement point.
    ReadRealtime {
        /// Measurement point.
        #[arg(long, default_value_t = 1)]
        pn: u16,
        /// Information class.
        #[arg(long = "fn", default_value_t = 25)]
        fn_: u8,
    },
}

/// Runs `amikit gdw376`.
pub(crate) fn run(args: &Args, printer: &Printer) -> Result<(), CliError> {
    match &args.command {
        Command::Decode(a) => {
            let profile = profile(&a.profile)?;
            let text = input::text(&a.input)?;
            let bytes = input::hex_bytes(&text)?;
            decode_bytes(&bytes, &profile, printer)
        }
        Command::Build(b) => build(b, printer),
    }
}

fn profile(name: &str) -> Result<Profile, CliError> {
    Profile::by_name(name).ok_or_else(|| {
        CliError::new(format!(
            "unknown profile {name:?}: one of {}",
            Profile::NAMES.join(", ")
        ))
    })
}

/// Decodes one frame (after any `FE` bytes) and prints it; used by `amikit decode` too.
pub(crate) fn decode_bytes(
    bytes: &[u8],
    profile: &Profile,
    printer: &Printer,
) -> Result<(), CliError> {
    let start = bytes.iter().take_while(|&&b| b == 0xFE).count();
    let frame_bytes = bytes.get(start..).unwrap_or(&[]);
    match Frame::new_checked(frame_bytes, profile) {
        // The usual case: exactly one frame (after any FE wake-up bytes).
        Ok(frame) => decode_frame(&frame, profile, printer),
        // Several frames, or garbage around them: find every frame in the stream. When there is
        // none, the error of the strict parse says why the input is not a frame.
        Err(strict) => {
            let found = decode_stream(bytes, profile, printer)?;
            if found == 0 {
                return Err(CliError::new(format!(
                    "not a valid Q/GDW 376.1 frame: {strict}"
                )));
            }
            Ok(())
        }
    }
}

fn decode_frame(
    frame: &Frame<&[u8]>,
    profile: &Profile,
    printer: &Printer,
) -> Result<(), CliError> {
    let repr = Repr::parse(frame, profile).map_err(|e| {
        CliError::new(format!(
            "Q/GDW 376.1 frame does not fit the profile: {e} (try --profile; `amikit gdw376 decode --profile lenient`)"
        ))
    })?;
    let j = frame_json(frame, &repr, profile);
    printer.print(text(&repr, &j), &j);
    Ok(())
}

/// Prints every frame the deframer finds in `bytes` and reports skipped bytes on stderr.
fn decode_stream(bytes: &[u8], profile: &Profile, printer: &Printer) -> Result<usize, CliError> {
    let mut deframer = Deframer::<{ MAX_FRAME }>::with_profile(*profile);
    let mut found = 0usize;
    let mut framed = 0usize;
    let mut rest = bytes;
    loop {
        let out = deframer.push(rest);
        rest = rest.get(out.consumed..).unwrap_or(&[]);
        match out.frame {
            Some(f) => {
                found += 1;
                framed += f.len();
                let frame = Frame::new_checked(f, profile)
                    .map_err(|e| CliError::new(format!("not a valid Q/GDW 376.1 frame: {e}")))?;
                decode_frame(&frame, profile, printer)?;
            }
            None if rest.is_empty() || out.consumed == 0 => break,
            None => {}
        }
    }
    let skipped = bytes.len().saturating_sub(framed);
    if found > 0 && skipped > 0 {
        let last = deframer
            .stats()
            .last_error
            .map(|e| format!("; last rejected candidate: {e}"))
            .unwrap_or_default();
        eprintln!("amikit: {found} frame(s); skipped {skipped} byte(s){last}");
    }
    Ok(found)
}

/// The largest Q/GDW 376.1 frame: 14-bit user-data length plus the fixed overhead.
const MAX_FRAME: usize = 16_383 + 8;

fn pn_json(pn: Pn) -> Json {
    if pn.is_all() {
        json!("all")
    } else {
        json!(pn.0)
    }
}

fn frame_json(frame: &Frame<&[u8]>, r: &Repr<'_>, profile: &Profile) -> Json {
    let c = r.control;
    let mut units = Vec::new();
    let mut inner = Json::Null;
    for item in r.units(profile) {
        match item {
            Item::Unit(u) => {
                let (value, error) = match u.value(profile, r.afn, r.dir()) {
                    Ok(Some(v)) => {
                        if let Value::ForwardReply(f) = v {
                            inner = inner_json(f.payload);
                        }
                        if let Value::ForwardRequest(f) = v {
                            inner = inner_json(f.payload);
                        }
                        (serde_json::to_value(v).unwrap_or(Json::Null), Json::Null)
                    }
                    Ok(None) => (Json::Null, Json::Null),
                    Err(e) => (Json::Null, json!(e.to_string())),
                };
                let mut o = json!({
                    "pn": pn_json(u.pn),
                    "fn": u.fn_.0,
                    "data": hex::encode_upper(u.data),
                    "value": value,
                });
                if let (false, Some(obj)) = (error.is_null(), o.as_object_mut()) {
                    obj.insert("error".into(), error);
                }
                units.push(o);
            }
            Item::Opaque(o) => {
                let reason = match o.reason {
                    OpaqueReason::UnknownLayout => "unknown layout".to_string(),
                    OpaqueReason::LengthMismatch => "length mismatch".to_string(),
                    OpaqueReason::BadDaDt(e) => format!("bad DA/DT: {e}"),
                    OpaqueReason::Truncated => "truncated".to_string(),
                    _ => "not understood".to_string(),
                };
                units.push(json!({
                    "pn": o.at.map(|(p, _)| pn_json(p)),
                    "fn": o.at.map(|(_, f)| f.0),
                    "data": hex::encode_upper(o.bytes),
                    "value": Json::Null,
                    "opaque": reason,
                }));
            }
            Item::Filler(b) => units.push(json!({
                "pn": Json::Null,
                "fn": Json::Null,
                "data": hex::encode_upper(b),
                "value": Json::Null,
                "filler": true,
            })),
        }
    }
    json!({
        "protocol": "gdw376",
        "length": frame.user_len(),
        "protocol_id": frame.protocol_id(),
        "control": {
            "raw": format!("{:02X}", c.0),
            "dir": match c.dir() { Direction::Up => "up", Direction::Down => "down" },
            "prm": c.prm(),
            "acd_fcb": c.fcb_acd(),
            "fcv": c.fcv(),
            "function": u8::from(c.function()),
            "function_name": c.function().name(),
        },
        "address": {
            "a1": format!("{:04X}", r.address.a1),
            "a2": r.address.a2,
            "msa": r.address.msa,
            "group": r.address.group,
        },
        "afn": format!("{:02X}", r.afn.0),
        "afn_name": r.afn.name(),
        "seq": {
            "tpv": r.seq.tpv(),
            "fir": r.seq.fir(),
            "fin": r.seq.fin(),
            "con": r.seq.con(),
            "seq": r.seq.seq(),
        },
        "units": units,
        "aux": {
            "pw": r.pw.map(hex::encode_upper),
            "ec": r.ec.map(|e| json!({"ec1": e.important, "ec2": e.normal})),
            "tp": r.tp.map(|t| json!({
                "pfc": t.pfc,
                "send_time": t.send_time().map(|s| s.to_string()).ok(),
                "delay_min": t.delay_min,
                "raw": hex::encode_upper(<[u8; 6]>::from(t)),
            })),
        },
        "checksum": format!("{:02X}", frame.checksum()),
        "inner": inner,
    })
}

/// The forwarded payload as a DL/T 645 frame (same keys as `amikit dlt645 decode`), or null.
fn inner_json(payload: &[u8]) -> Json {
    match amikit_dlt645::Frame::new_checked(payload) {
        Ok(f) => crate::dlt645::frame_json(&f, None),
        Err(_) => Json::Null,
    }
}

static NULL: Json = Json::Null;

/// `v` at a JSON pointer, or null.
fn at<'a>(v: &'a Json, pointer: &str) -> &'a Json {
    v.pointer(pointer).unwrap_or(&NULL)
}

fn text(repr: &Repr<'_>, j: &Json) -> String {
    // The first line is the crate's own one-line `Display` of the frame.
    let mut s = format!("Q/GDW 376.1 {repr}");
    for u in at(j, "/units").as_array().into_iter().flatten() {
        s.push_str(&format!(
            "\n  p{} F{}: {}",
            at(u, "/pn"),
            at(u, "/fn"),
            at(u, "/data").as_str().unwrap_or("")
        ));
        if !at(u, "/value").is_null() {
            s.push_str(&format!("\n    {}", at(u, "/value")));
        }
        for k in ["error", "opaque"] {
            if let Some(e) = u.get(k) {
                s.push_str(&format!("\n    {k}: {}", e.as_str().unwrap_or("")));
            }
        }
    }
    let aux = at(j, "/aux");
    for k in ["pw", "ec", "tp"] {
        if !at(aux, &format!("/{k}")).is_null() {
            s.push_str(&format!("\n  {k}: {}", at(aux, &format!("/{k}"))));
        }
    }
    if !at(j, "/inner").is_null() {
        s.push_str(&format!("\n  inner DL/T 645: {}", at(j, "/inner")));
    }
    s
}

fn parse_tp(s: &str, pfc: u8, delay: u8) -> Result<Tp, CliError> {
    let bad = || CliError::new(format!("bad --tp {s:?}: expected DDThh:mm:ss"));
    let (day, time) = s.split_once('T').ok_or_else(bad)?;
    let mut parts = time.split(':').map(str::parse::<u8>);
    let (Some(Ok(hour)), Some(Ok(minute)), Some(Ok(second)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let day: u8 = day.parse().map_err(|_| bad())?;
    let t = Format16 {
        second,
        minute,
        hour,
        day,
    };
    if !t.is_plausible() {
        return Err(bad());
    }
    Tp::new(pfc, t, delay).map_err(|_| bad())
}

fn build(b: &BuildArgs, printer: &Printer) -> Result<(), CliError> {
    let profile = profile(&b.profile)?;
    let a1 = u16::from_str_radix(&b.a1, 16)
        .ok()
        .filter(|_| b.a1.len() == 4 && b.a1.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| CliError::new(format!("bad --a1 {:?}: four digits", b.a1)))?;
    if b.msa > 127 {
        return Err(CliError::new("--msa must be 0–127"));
    }
    let address = Address::new(a1, b.a2).with_msa(b.msa);
    let tp =
        b.tp.as_deref()
            .map(|s| parse_tp(s, b.pfc, b.delay))
            .transpose()?;
    let pseq = b.pfc & 0x0F;
    let mut data = [0u8; 8];
    let (afn, pn, fn_, len, control, con) = match b.what {
        BuildKind::Trip {
            round,
            alarm_delay,
            limit,
        } => {
            let mut w = Writer::new(&mut data);
            RemoteTrip {
                alarm_delay_min: alarm_delay,
                limit_half_hours: limit,
            }
            .emit(&mut w)
            .map_err(|e| CliError::new(e.to_string()))?;
            (
                Afn::CONTROL,
                Pn(round),
                InfoClass(1),
                w.pos(),
                Control::MASTER_COMMAND,
                true,
            )
        }
        BuildKind::AllowClose { round } => (
            Afn::CONTROL,
            Pn(round),
            InfoClass(2),
            0,
            Control::MASTER_COMMAND,
            true,
        ),
        BuildKind::GuardOn { half_hours } => {
            let mut w = Writer::new(&mut data);
            GuardOn { half_hours }
                .emit(&mut w)
                .map_err(|e| CliError::new(e.to_string()))?;
            (
                Afn::CONTROL,
                Pn::P0,
                InfoClass(25),
                w.pos(),
                Control::MASTER_COMMAND,
                true,
            )
        }
        BuildKind::ReadRealtime { pn, fn_ } => (
            Afn::CLASS1,
            Pn(pn),
            InfoClass(fn_),
            0,
            Control::MASTER_READ,
            false,
        ),
    };
    let builder = FrameBuilder::new(
        &profile,
        control,
        address,
        afn,
        Seq::single(false, con, pseq),
    )
    .with_tp(tp);
    let mut out = [0u8; 256];
    let mut w = builder
        .begin(&mut out)
        .map_err(|e| CliError::new(e.to_string()))?;
    w.unit(pn, fn_, data.get(..len).unwrap_or(&[]))
        .map_err(|e| CliError::new(e.to_string()))?;
    let n = w
        .finish(&mut amikit_gdw376::security::ZeroPw)
        .map_err(|e| CliError::new(e.to_string()))?;
    let bytes = out.get(..n).unwrap_or(&[]);
    let hex = hex::encode_upper(bytes);
    let frame = Frame::new_checked(bytes, &profile).map_err(|e| CliError::new(e.to_string()))?;
    let repr = Repr::parse(&frame, &profile).map_err(|e| CliError::new(e.to_string()))?;
    let mut j = frame_json(&frame, &repr, &profile);
    if let Some(o) = j.as_object_mut() {
        o.insert("hex".into(), json!(hex));
    }
    printer.print(&hex, &j);
    Ok(())
}
