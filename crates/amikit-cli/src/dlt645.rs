//! `amikit dlt645`: decode DL/T 645 frames and build read requests.
//!
//! [`frame_json`] is the one place that turns a frame into JSON; other modules (the Q/GDW 376.1
//! decoder printing a forwarded frame under `inner`) call it too.

use std::fmt::Write as _;

use amikit_dlt645::catalogue::{self, v1997};
use amikit_dlt645::deframer::{Deframer, Event};
use amikit_dlt645::value::Value;
use amikit_dlt645::{
    Address, Body, Data, DataId, Edition, Frame, Function, RemoteBody, Reply, Repr, Request,
};
use serde_json::{Value as Json, json};

use crate::error::CliError;
use crate::input;
use crate::output::Printer;

/// Arguments of `amikit dlt645`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Decode DL/T 645 frames (several frames and garbage allowed; skipped bytes are reported).
    Decode(DecodeArgs),
    /// Build a read request and print it as hex.
    Read(ReadArgs),
}

/// `1997` or `2007`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EditionArg {
    /// DL/T 645-1997.
    #[value(name = "1997")]
    V1997,
    /// DL/T 645-2007.
    #[value(name = "2007")]
    V2007,
}

impl From<EditionArg> for Edition {
    fn from(e: EditionArg) -> Self {
        match e {
            EditionArg::V1997 => Edition::V1997,
            EditionArg::V2007 => Edition::V2007,
        }
    }
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// Hex bytes (spaces allowed); standard input when absent or `-`.
    input: Vec<String>,
    /// Edition of the function table (default: detected from each frame's function code).
    #[arg(long, value_enum)]
    edition: Option<EditionArg>,
}

#[derive(Debug, clap::Args)]
struct ReadArgs {
    /// Meter address, 12 digits as printed (`AA` pairs allowed), e.g. `000012345678`.
    #[arg(long)]
    address: String,
    /// Data identifier: 8 hex digits (2007, e.g. `00010000`) or 4 (1997, e.g. `9010`).
    #[arg(long)]
    di: String,
    /// Edition (default: from the DI width).
    #[arg(long, value_enum)]
    edition: Option<EditionArg>,
    /// Number of `FE` preamble bytes to prepend.
    #[arg(long, default_value_t = 0)]
    preamble: u8,
}

/// Runs `amikit dlt645`.
pub(crate) fn run(args: &Args, printer: &Printer) -> Result<(), CliError> {
    match &args.command {
        Command::Decode(a) => {
            let text = input::text(&a.input)?;
            let bytes = input::hex_bytes(&text)?;
            decode_bytes(&bytes, a.edition.map(Edition::from), printer)
        }
        Command::Read(a) => read(a, printer),
    }
}

fn read(a: &ReadArgs, printer: &Printer) -> Result<(), CliError> {
    let address = a.address.parse::<Address>().map_err(|_| {
        CliError::new(format!(
            "bad address {:?}: 12 digits or AA pairs",
            a.address
        ))
    })?;
    let di = a.di.parse::<DataId>().map_err(|_| {
        CliError::new(format!(
            "bad DI {:?}: 8 hex digits (2007) or 4 (1997)",
            a.di
        ))
    })?;
    let edition = a.edition.map_or(di.edition(), Edition::from);
    if edition != di.edition() {
        return Err(CliError::new(format!(
            "DI {di} has the width of DL/T 645-{}, not {edition}",
            di.edition()
        )));
    }
    let repr = Repr::request(
        edition,
        address,
        Request::Read {
            di,
            extra: Data::EMPTY,
        },
    )
    .with_preamble(a.preamble);
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut buf)
        .map_err(|e| CliError::new(e.to_string()))?;
    let bytes = buf.get(..n).unwrap_or(&[]);
    let hex = hex::encode_upper(bytes);
    let mut j = match Frame::new_checked(bytes) {
        Ok(f) => frame_json(&f, Some(edition)),
        Err(e) => return Err(CliError::new(e.to_string())),
    };
    if let Some(o) = j.as_object_mut() {
        o.insert("hex".into(), json!(hex));
    }
    printer.print(&hex, &j);
    Ok(())
}

/// Decodes every frame in `bytes` (used by `amikit decode` too). Prints each frame; reports
/// skipped bytes on standard error; fails with the frame's defect when no valid frame is found.
pub(crate) fn decode_bytes(
    bytes: &[u8],
    edition: Option<Edition>,
    printer: &Printer,
) -> Result<(), CliError> {
    let mut deframer = Deframer::<4096>::new();
    let mut frames = 0usize;
    let mut offset = 0usize;
    let mut skipped = Vec::new();
    let mut rest = bytes;
    let mut handle = |ev: Event<'_>, offset: &mut usize, frames: &mut usize| match ev {
        Event::Frame(f) => {
            *frames += 1;
            *offset += f.total_len();
            printer.print(frame_text(&f, edition), &frame_json(&f, edition));
        }
        Event::Skipped { len, reason } => {
            skipped.push((*offset, len, reason.name()));
            *offset += len;
        }
    };
    while !rest.is_empty() {
        let n = deframer.push(rest);
        rest = rest.get(n..).unwrap_or(&[]);
        while let Some(ev) = deframer.next() {
            handle(ev, &mut offset, &mut frames);
        }
    }
    deframer.idle();
    while let Some(ev) = deframer.next() {
        handle(ev, &mut offset, &mut frames);
    }
    if frames == 0 {
        return Err(CliError::new(diagnose(bytes)));
    }
    let total: usize = skipped.iter().map(|s| s.1).sum();
    if total > 0 {
        let parts: Vec<String> = skipped
            .iter()
            .map(|(at, len, why)| format!("{len} at offset {at} ({why})"))
            .collect();
        eprintln!(
            "amikit: {frames} frame(s); skipped {total} byte(s): {}",
            parts.join(", ")
        );
    }
    Ok(())
}

/// Why the input holds no valid frame: the defect of the first candidate.
fn diagnose(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b == 0x68);
    let Some(start) = start else {
        return "no DL/T 645 frame found (no 0x68 start byte)".into();
    };
    // include a preamble run before the 68
    let pre = bytes
        .get(..start)
        .map_or(0, |b| b.iter().rev().take_while(|&&x| x == 0xFE).count());
    let candidate = bytes.get(start - pre..).unwrap_or(&[]);
    match Frame::parse_prefix(candidate) {
        Err(e) => e.to_string(),
        Ok(_) => "no DL/T 645 frame found".into(),
    }
}

/// The edition used for a frame: `forced`, else detected from the function code (ambiguous
/// codes: `03` without data is the 1997 re-read, everything else 2007).
pub(crate) fn edition_of<T: AsRef<[u8]> + ?Sized>(
    frame: &Frame<&T>,
    forced: Option<Edition>,
) -> Edition {
    forced
        .or_else(|| Edition::detect(frame.control()))
        .unwrap_or_else(|| {
            if frame.control().code() == 0x03 && frame.data_len() == 0 {
                Edition::V1997
            } else {
                Edition::V2007
            }
        })
}

struct Decoded {
    edition: Edition,
    function: Function,
    error: Json,
    di: Option<DataId>,
    payload: String,
    values: Vec<Json>,
    details: Json,
    problem: Option<String>,
}

fn decode_frame<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>, forced: Option<Edition>) -> Decoded {
    let edition = edition_of(frame, forced);
    let control = frame.control();
    let function = control.function(edition);
    let data = frame.data();
    let mut out = Decoded {
        edition,
        function,
        error: Json::Null,
        di: None,
        payload: data.to_string(),
        values: Vec::new(),
        details: Json::Null,
        problem: None,
    };
    let repr = match Repr::parse(frame, edition) {
        Ok(r) => r,
        Err(e) => {
            out.problem = Some(e.to_string());
            return out;
        }
    };
    let set_di = |di: DataId, value: Data<'_>, out: &mut Decoded| {
        out.di = Some(di);
        out.payload = value.to_string();
        out.values = values_json(di, value);
    };
    match repr.body {
        Body::Abnormal { error, .. } => {
            let flags: Vec<&str> = error.flag_names().collect();
            out.error = json!({ "word": format!("{:02X}", error.0), "flags": flags });
        }
        Body::Reply(Reply::Read { di, data, .. } | Reply::ReRead { di, data, .. }) => {
            set_di(di, data, &mut out);
        }
        Body::Reply(Reply::ReadFollowUp { di, data, seq, .. }) => {
            // follow-up frames carry a part of the value: show it raw
            out.di = Some(di);
            out.payload = data.to_string();
            out.details = json!({ "seq": seq });
        }
        Body::Request(Request::Read { di, extra }) => {
            out.di = Some(di);
            out.payload = extra.to_string();
        }
        Body::Request(Request::ReadFollowUp { di, seq }) => {
            out.di = Some(di);
            out.payload = String::new();
            out.details = json!({ "seq": seq });
        }
        Body::Request(Request::Write {
            di,
            password,
            operator,
            data,
        }) => {
            set_di(di, data, &mut out);
            out.details = json!({
                "password_level": format!("{:02X}", password.level),
                "operator": operator.map(|o| hex::encode_upper(o.0)),
            });
        }
        Body::Request(Request::ChangePassword {
            di: Some(di),
            old,
            new,
        }) => {
            out.di = Some(DataId::V2007(di));
            out.payload = data
                .split_at(4)
                .map(|(_, r)| r.to_string())
                .unwrap_or_default();
            out.details = json!({ "old_level": old.level, "new_level": new.level });
        }
        Body::Request(Request::ClearEvents { event, .. }) => {
            out.details = json!({ "event": event.to_string() });
        }
        Body::Request(Request::BroadcastTime { time }) => {
            out.details = json!({ "time": time.to_string() });
        }
        Body::Request(Request::Freeze { time }) => {
            out.details = json!({ "time": hex::encode_upper(time.0.iter().rev().copied().collect::<Vec<u8>>()) });
        }
        Body::Request(Request::ChangeBaud { baud }) | Body::Reply(Reply::ChangeBaud { baud }) => {
            out.details = json!({ "feature_word": format!("{:02X}", <u8>::from(baud)), "baud": baud.bits_per_second() });
        }
        Body::Request(Request::WriteAddress { address })
        | Body::Reply(Reply::ReadAddress { address }) => {
            out.details = json!({ "new_address": address.to_string() });
        }
        Body::Request(Request::RemoteControl(rc)) => {
            out.details = match rc.body {
                RemoteBody::Plain {
                    command,
                    valid_until,
                    ..
                } => json!({
                    "password_level": format!("{:02X}", rc.auth.password.level),
                    "operator": hex::encode_upper(rc.auth.operator.0),
                    "command": command.to_string(),
                    "command_byte": format!("{:02X}", <u8>::from(command)),
                    "valid_until": valid_until.to_string(),
                }),
                RemoteBody::Encrypted(block) => json!({
                    "password_level": format!("{:02X}", rc.auth.password.level),
                    "operator": hex::encode_upper(rc.auth.operator.0),
                    "encrypted": block.to_string(),
                }),
            };
        }
        _ => {}
    }
    out
}

fn value_json(v: &Result<Option<Value<'_>>, amikit_dlt645::ValueError>) -> (Json, Option<String>) {
    match v {
        Ok(None) => (Json::Null, None),
        Ok(Some(Value::Demand { value, time })) => {
            (json!(value.to_string()), time.map(|t| t.to_string()))
        }
        Ok(Some(v)) => (json!(v.to_string()), None),
        Err(e) => (Json::Null, Some(e.to_string())),
    }
}

fn name_of(entry: &catalogue::Entry) -> String {
    entry
        .name_en()
        .map(|n| n.to_string())
        .unwrap_or_else(|| entry.name_zh().to_string())
}

fn values_json(di: DataId, data: Data<'_>) -> Vec<Json> {
    let mut out = Vec::new();
    let mut push = |di: String, name: Json, v: Result<Option<Value<'_>>, _>, unit: Option<&str>| {
        let (value, extra) = value_json(&v);
        let mut o = json!({ "di": di, "name": name, "value": value, "unit": unit });
        if let (Some(x), Some(m)) = (extra, o.as_object_mut()) {
            let key = if v.is_ok() { "time" } else { "error" };
            m.insert(key.into(), json!(x));
        }
        out.push(o);
    };
    match di {
        DataId::V2007(d) if d.is_block() => {
            for (entry, v) in catalogue::parse_block(d, data) {
                match entry {
                    Some(e) => push(e.di.to_string(), json!(name_of(&e)), v, e.unit.symbol()),
                    None => push(d.to_string(), Json::Null, v, None),
                }
            }
        }
        DataId::V2007(d) => {
            if let Some(e) = catalogue::lookup(d) {
                push(
                    d.to_string(),
                    json!(name_of(&e)),
                    e.parse(data),
                    e.unit.symbol(),
                );
            }
        }
        DataId::V1997(d) => {
            if let Some(e) = v1997::lookup(d) {
                push(
                    d.to_string(),
                    json!(e.name_en),
                    e.parse(data),
                    e.unit.symbol(),
                );
            }
        }
    }
    out
}

/// The JSON object of one frame: `protocol`, `edition`, `preamble`, `address`, `control`,
/// `direction`, `function`, `follow_up`, `error`, `di`, `payload`, `values`, plus `data_len`,
/// `checksum`, `details` (function-specific fields) and `problem` (why the data field does not
/// parse, or null). `edition`: `forced`, else detected from the function code.
pub(crate) fn frame_json<T: AsRef<[u8]> + ?Sized>(
    frame: &Frame<&T>,
    edition: Option<Edition>,
) -> Json {
    let d = decode_frame(frame, edition);
    let control = frame.control();
    json!({
        "protocol": "dlt645",
        "edition": d.edition.year().to_string(),
        "preamble": frame.preamble_len(),
        "address": frame.address().to_string(),
        "control": format!("{:02X}", control.0),
        "direction": control.direction().name(),
        "function": d.function.to_string(),
        "follow_up": control.has_follow_up(),
        "error": d.error,
        "di": d.di.map(|x| x.to_string()),
        "payload": d.payload,
        "values": d.values,
        "data_len": frame.data_len(),
        "checksum": format!("{:02X}", frame.checksum()),
        "details": d.details,
        "problem": d.problem,
    })
}

/// Human-readable lines for one frame.
pub(crate) fn frame_text<T: AsRef<[u8]> + ?Sized>(
    frame: &Frame<&T>,
    edition: Option<Edition>,
) -> String {
    let d = decode_frame(frame, edition);
    let control = frame.control();
    // The first line is the crate's one-line `Display` of the frame when its data field
    // parses, else the header fields alone.
    let mut s = match Repr::parse(frame, d.edition) {
        Ok(repr) => format!("DL/T 645-{repr}, control {:02X}", control.0),
        Err(_) => {
            let mut line = format!(
                "DL/T 645-{} {} {} {}, control {:02X}",
                d.edition,
                frame.address(),
                if control.is_reply() {
                    "reply"
                } else {
                    "request"
                },
                d.function,
                control.0
            );
            if control.has_follow_up() {
                line.push_str(" (more follows)");
            }
            line
        }
    };
    if frame.preamble_len() > 0 {
        let _ = write!(s, ", {} FE preamble", frame.preamble_len());
    }
    if let Some(e) = d.error.get("word").and_then(Json::as_str) {
        let flags: Vec<&str> = d
            .error
            .get("flags")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let _ = write!(s, "\n  error word {e}: {}", flags.join(", "));
    }
    if let Some(di) = d.di {
        let _ = write!(s, "\n  DI {di}");
    }
    if !d.payload.is_empty() {
        let _ = write!(s, "\n  payload {}", d.payload);
    }
    for v in &d.values {
        let _ = write!(
            s,
            "\n  {} {}: {}{}",
            v.get("di").unwrap_or(&Json::Null).as_str().unwrap_or(""),
            v.get("name").unwrap_or(&Json::Null).as_str().unwrap_or("?"),
            v.get("value")
                .unwrap_or(&Json::Null)
                .as_str()
                .unwrap_or("no data"),
            v.get("unit")
                .unwrap_or(&Json::Null)
                .as_str()
                .map(|u| format!(" {u}"))
                .unwrap_or_default()
        );
        if let Some(t) = v.get("time").and_then(Json::as_str) {
            let _ = write!(s, " at {t}");
        }
    }
    if let Some(map) = d.details.as_object() {
        for (k, v) in map {
            let _ = write!(
                s,
                "\n  {k}: {}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            );
        }
    }
    if let Some(p) = d.problem {
        let _ = write!(s, "\n  problem: {p}");
    }
    s
}
