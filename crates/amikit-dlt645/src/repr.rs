//! [`Repr`]: a whole frame as a typed request, reply, abnormal reply or unknown function, with
//! `parse` / `buffer_len` / `emit`.

use crate::address::Address;
use crate::control::{Control, Edition, Function};
use crate::data::{Data, descramble};
use crate::di::{DataId, Di};
use crate::error::{EncodeError, ParseError, ValueError};
use crate::error_word::ErrorWord;
use crate::frame::{Frame, OVERHEAD, write_frame};
use crate::remote::{RemoteBody, RemoteCommand, RemoteControl};
use crate::reply::Reply;
use crate::request::{Auth, BaudRate, FreezeTime, OperatorCode, Password, Request};
use crate::value::{DateTime, TimeLayout};

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Body<'a> {
    /// A request from the master (D7 = 0).
    Request(Request<'a>),
    /// A normal reply (D7 = 1, D6 = 0).
    Reply(Reply<'a>),
    /// An abnormal reply (D7 = D6 = 1) with its error word.
    Abnormal {
        /// The function that failed.
        function: Function,
        /// The error word (first data byte).
        error: ErrorWord,
        /// Bytes after the error word (2013 security replies carry a 2-byte error); usually
        /// empty.
        extra: Data<'a>,
    },
    /// A function the edition does not define, or a control byte with bits the function does
    /// not use (follow-up bit on a write reply, abnormal bit on a request), kept losslessly.
    Unknown {
        /// The control byte.
        control: Control,
        /// The data field.
        data: Data<'a>,
    },
}

/// Limits a parser and a builder apply beyond the frame format.
///
/// DL/T 645-2007 and DL/T 645-1997 both limit the data field of a write request to 50 bytes
/// ("写数据时 L≤50"); the 2013 amendment's secured writes (password levels 98/99: data, MAC and
/// encrypted parameters) need more. [`Repr::parse`] and [`Repr::emit`] apply
/// [`Limits::STANDARD`]; [`Repr::parse_with`] and [`Repr::emit_with`] take other limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Limits {
    /// Largest data field `L` of a write request (DI, password, operator code and value
    /// together). Values above 200 act as 200, the limit of every data field.
    pub max_write: u8,
}

impl Limits {
    /// The standard's limits: writes up to 50 bytes.
    pub const STANDARD: Limits = Limits {
        max_write: Edition::V2007.max_write_len(),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::STANDARD
    }
}

/// A frame as typed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Repr<'a> {
    /// Which edition's tables apply.
    pub edition: Edition,
    /// Number of `FE` bytes before the frame.
    pub preamble: u8,
    /// The meter address.
    pub address: Address,
    /// The content.
    pub body: Body<'a>,
}

fn need(function: Function, data: &Data<'_>, n: usize, exact: bool) -> Result<(), ParseError> {
    let ok = if exact {
        data.len() == n
    } else {
        data.len() >= n
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::DataLength {
            function: function.name(),
            expected: n as u8,
            actual: data.len().min(255) as u8,
        })
    }
}

fn split_di<'a>(
    function: Function,
    edition: Edition,
    data: Data<'a>,
) -> Result<(DataId, Data<'a>), ParseError> {
    let w = edition.di_len();
    need(function, &data, w, false)?;
    let (head, rest) = data.split_at(w).unwrap_or((Data::EMPTY, Data::EMPTY));
    let mut b = [0u8; 4];
    head.copy_to(&mut b);
    let di = DataId::from_plain(edition, &b).unwrap_or(DataId::V2007(Di(0)));
    Ok((di, rest))
}

fn chunk<const N: usize>(data: &Data<'_>) -> [u8; N] {
    data.first_chunk::<N>().unwrap_or([0; N])
}

fn auth_of(data: &Data<'_>) -> Auth {
    Auth::from_plain(chunk::<8>(data))
}

impl<'a> Repr<'a> {
    /// A frame with no preamble.
    pub const fn new(edition: Edition, address: Address, body: Body<'a>) -> Self {
        Repr {
            edition,
            preamble: 0,
            address,
            body,
        }
    }

    /// A request frame.
    pub const fn request(edition: Edition, address: Address, request: Request<'a>) -> Self {
        Self::new(edition, address, Body::Request(request))
    }

    /// A 2007 read request (the most common frame).
    pub const fn read(address: Address, di: Di) -> Self {
        Self::request(
            Edition::V2007,
            address,
            Request::Read {
                di: DataId::V2007(di),
                extra: Data::EMPTY,
            },
        )
    }

    /// The same frame with `n` `FE` preamble bytes.
    pub const fn with_preamble(mut self, n: u8) -> Self {
        self.preamble = n;
        self
    }

    /// Checks `bytes` as one complete frame ([`Frame::new_checked`]) and parses it.
    pub fn parse_bytes(bytes: &'a [u8], edition: Edition) -> Result<Self, ParseError> {
        let frame = Frame::new_checked(bytes)?;
        Self::parse(&frame, edition)
    }

    /// Parses a frame under an edition's tables with the standard [`Limits`]. The frame
    /// should come from [`Frame::new_checked`] or the deframer; only its length is re-checked
    /// here.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        frame: &Frame<&'a T>,
        edition: Edition,
    ) -> Result<Self, ParseError> {
        Self::parse_with(frame, edition, Limits::STANDARD)
    }

    /// As [`Repr::parse`], with other [`Limits`]: a write request whose data field exceeds
    /// `limits.max_write` is [`ParseError::TooLong`].
    #[inline]
    pub fn parse_with<T: AsRef<[u8]> + ?Sized>(
        frame: &Frame<&'a T>,
        edition: Edition,
        limits: Limits,
    ) -> Result<Self, ParseError> {
        frame.check_len()?;
        let len = frame.data_len();
        if len > edition.max_data_len() {
            return Err(ParseError::TooLong {
                max: edition.max_data_len(),
                actual: len,
            });
        }
        let control = frame.control();
        let data = frame.data();
        // Fast path for the bulk of the traffic: a normal read reply (91/B1, 81/A1).
        let read = match edition {
            Edition::V2007 => 0x91,
            Edition::V1997 => 0x81,
        };
        if control.0 & !Control::FOLLOW_UP == read
            && let Some((_, value)) = data.split_at(edition.di_len())
        {
            let (raw, _) = data.raw();
            let di = match (edition, raw.first_chunk::<4>(), raw.first_chunk::<2>()) {
                (Edition::V2007, Some(b), _) => DataId::V2007(Di::from_wire(b.map(descramble))),
                (Edition::V1997, _, Some(b)) => {
                    DataId::V1997(crate::di::Di97::from_wire(b.map(descramble)))
                }
                _ => DataId::V2007(Di(0)),
            };
            return Ok(Repr {
                edition,
                preamble: frame.preamble_len().min(255) as u8,
                address: frame.address(),
                body: Body::Reply(Reply::Read {
                    di,
                    data: value,
                    more: control.has_follow_up(),
                }),
            });
        }
        let function = control.function(edition);
        let body = if let Function::Unknown(_) = function {
            Body::Unknown { control, data }
        } else if !control.is_reply() {
            let request = parse_request(function, edition, data)?;
            if let Request::Write { .. } = request
                && len > limits.max_write
            {
                return Err(ParseError::TooLong {
                    max: limits.max_write,
                    actual: len,
                });
            }
            Body::Request(request)
        } else if control.is_abnormal() {
            need(function, &data, 1, false)?;
            let (e, extra) = data.split_at(1).unwrap_or((Data::EMPTY, Data::EMPTY));
            Body::Abnormal {
                function,
                error: ErrorWord(e.get(0).unwrap_or(0)),
                extra,
            }
        } else {
            Body::Reply(parse_reply(
                function,
                edition,
                data,
                control.has_follow_up(),
            )?)
        };
        let mut repr = Repr {
            edition,
            preamble: frame.preamble_len().min(255) as u8,
            address: frame.address(),
            body,
        };
        // Bits the typed form cannot carry (D5 on a function without follow-up frames, D6 on
        // a request): keep the frame as Unknown so that it re-emits byte for byte.
        if repr.control().ok() != Some(control) {
            repr.body = Body::Unknown { control, data };
        }
        Ok(repr)
    }

    /// The control byte this representation emits.
    pub fn control(&self) -> Result<Control, EncodeError> {
        let code = |f: Function| {
            f.code(self.edition).ok_or(EncodeError::NotInEdition {
                function: f.name(),
                edition: self.edition.year(),
            })
        };
        Ok(match &self.body {
            Body::Request(r) => Control::request(code(r.function())?),
            Body::Reply(r) => Control::reply(code(r.function())?, r.more()),
            Body::Abnormal { function, .. } => Control::abnormal(code(*function)?),
            Body::Unknown { control, .. } => *control,
        })
    }

    /// Bytes of the data field.
    pub(crate) fn data_len(&self) -> usize {
        let w = self.edition.di_len();
        match &self.body {
            Body::Request(r) => match r {
                Request::SecurityAuth { payload } => payload.len(),
                Request::BroadcastTime { .. } => 6,
                Request::Read { extra, .. } => w + extra.len(),
                Request::ReadFollowUp { seq, .. } => w + usize::from(seq.is_some()),
                Request::ReRead | Request::ReadAddress => 0,
                Request::Write { operator, data, .. } => {
                    w + 4 + if operator.is_some() { 4 } else { 0 } + data.len()
                }
                Request::WriteAddress { .. } => 6,
                Request::Freeze { .. } => 4,
                Request::ChangeBaud { .. } | Request::MultiFunctionOutput { .. } => 1,
                Request::ChangePassword { di, .. } => 8 + if di.is_some() { 4 } else { 0 },
                Request::ClearMaxDemand { auth } => {
                    if auth.is_some() {
                        8
                    } else {
                        0
                    }
                }
                Request::ClearMeter { .. } => 8,
                Request::ClearEvents { .. } => 12,
                Request::RemoteControl(rc) => match rc.body {
                    RemoteBody::Plain { .. } => 16,
                    RemoteBody::Encrypted(d) => 8 + d.len(),
                },
            },
            Body::Reply(r) => match r {
                Reply::Read { data, .. } | Reply::ReRead { data, .. } => w + data.len(),
                Reply::ReadFollowUp { data, seq, .. } => {
                    w + data.len() + usize::from(seq.is_some())
                }
                Reply::ReadAddress { .. } => 6,
                Reply::ChangeBaud { .. } | Reply::MultiFunctionOutput { .. } => 1,
                Reply::ChangePassword { .. } => 4,
                Reply::SecurityAuth { payload } => payload.len(),
                Reply::Ack(_) => 0,
            },
            Body::Abnormal { extra, .. } => 1 + extra.len(),
            Body::Unknown { data, .. } => data.len(),
        }
    }

    /// Bytes [`Repr::emit`] writes: preamble + 12 + data field.
    pub fn buffer_len(&self) -> usize {
        usize::from(self.preamble) + OVERHEAD + self.data_len()
    }

    fn validate(&self, limits: Limits) -> Result<(), EncodeError> {
        let len = self.data_len();
        let e = self.edition;
        let max = e.max_data_len();
        if len > usize::from(max) {
            return Err(EncodeError::TooLong { len, max });
        }
        let check_di = |di: &DataId| {
            if di.edition() == e {
                Ok(())
            } else {
                Err(EncodeError::DiWidth { edition: e.year() })
            }
        };
        let layout = |ok: bool, function: Function, field| {
            if ok {
                Ok(())
            } else {
                Err(EncodeError::Layout {
                    function: function.name(),
                    field,
                })
            }
        };
        let v2007 = e == Edition::V2007;
        if let Body::Request(r) = &self.body {
            let f = r.function();
            let addr_ok = match r {
                Request::BroadcastTime { .. } => self.address.is_broadcast(),
                Request::ReadAddress => self.address.is_wildcard(),
                Request::Freeze { .. }
                | Request::ChangeBaud { .. }
                | Request::MultiFunctionOutput { .. }
                | Request::WriteAddress { .. } => true,
                _ => !self.address.is_broadcast(),
            };
            if !addr_ok {
                return Err(EncodeError::Address { function: f.name() });
            }
            match r {
                Request::Read { di, .. } => check_di(di)?,
                Request::ReadFollowUp { di, seq } => {
                    check_di(di)?;
                    layout(seq.is_some() == v2007, f, "seq")?;
                }
                Request::Write { di, operator, .. } => {
                    check_di(di)?;
                    layout(operator.is_some() == v2007, f, "operator")?;
                    let wmax = limits.max_write;
                    if len > usize::from(wmax) {
                        return Err(EncodeError::TooLong { len, max: wmax });
                    }
                }
                Request::ChangePassword { di, .. } => layout(di.is_some() == v2007, f, "di")?,
                Request::ClearMaxDemand { auth } => layout(auth.is_some() == v2007, f, "auth")?,
                Request::WriteAddress { address } => layout(
                    !address.is_shortened() && !address.is_broadcast(),
                    f,
                    "address",
                )?,
                _ => {}
            }
        }
        if let Body::Reply(r) = &self.body {
            match r {
                Reply::Read { di, .. } | Reply::ReRead { di, .. } => check_di(di)?,
                Reply::ReadFollowUp { di, seq, .. } => {
                    check_di(di)?;
                    layout(seq.is_some() == v2007, r.function(), "seq")?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes the frame into `out` (which must hold [`Repr::buffer_len`] bytes); returns the
    /// byte count. Refuses functions the edition lacks, wrong DI widths, data fields over the
    /// edition's limits (200; writes 50, [`Limits::STANDARD`]) and addresses the function does
    /// not allow (broadcast only for broadcast time / freeze / change baud / output control;
    /// `AA…AA` for read address).
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        self.emit_with(out, Limits::STANDARD)
    }

    /// As [`Repr::emit`], with other [`Limits`] (a write request's data field may be up to
    /// `limits.max_write` bytes).
    pub fn emit_with(&self, out: &mut [u8], limits: Limits) -> Result<usize, EncodeError> {
        // Fast path for the most common frame: a plain read request.
        if let Body::Request(Request::Read { di, extra }) = &self.body
            && extra.is_empty()
            && di.edition() == self.edition
            && !self.address.is_broadcast()
        {
            let code = match self.edition {
                Edition::V2007 => 0x11,
                Edition::V1997 => 0x01,
            };
            return write_frame(
                out,
                usize::from(self.preamble),
                self.address,
                Control(code),
                di.len(),
                |d| {
                    di.write_plain(d);
                    Ok(())
                },
            );
        }
        let control = self.control()?;
        self.validate(limits)?;
        let len = self.data_len();
        write_frame(
            out,
            usize::from(self.preamble),
            self.address,
            control,
            len,
            |d| fill(&self.body, d),
        )
    }

    /// Emits into a fixed `N`-byte array (convenience for small frames); returns the array and
    /// the byte count, or [`EncodeError::BufferTooSmall`] when `N` is too small.
    pub fn to_array<const N: usize>(&self) -> Result<([u8; N], usize), EncodeError> {
        let mut out = [0u8; N];
        let n = self.emit(&mut out)?;
        Ok((out, n))
    }

    /// Emits into a new `Vec`.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Result<alloc::vec::Vec<u8>, EncodeError> {
        let mut v = alloc::vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

/// Writes plain (not yet +0x33) data bytes.
struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.at + bytes.len();
        let got = self.out.len();
        self.out
            .get_mut(self.at..end)
            .ok_or(EncodeError::BufferTooSmall { needed: end, got })?
            .copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }
    fn data(&mut self, d: &Data<'_>) -> Result<(), EncodeError> {
        let got = self.out.len();
        let n = self
            .out
            .get_mut(self.at..)
            .and_then(|o| d.copy_to(o))
            .ok_or(EncodeError::BufferTooSmall {
                needed: self.at + d.len(),
                got,
            })?;
        self.at += n;
        Ok(())
    }
    fn di(&mut self, di: &DataId) -> Result<(), EncodeError> {
        let mut b = [0u8; 4];
        let n = di.write_plain(&mut b).unwrap_or(0);
        self.put(b.get(..n).unwrap_or(&[]))
    }
    fn time(&mut self, t: &DateTime, layout: TimeLayout) -> Result<(), EncodeError> {
        let mut b = [0u8; 6];
        let n = t.emit(layout, &mut b)?;
        self.put(b.get(..n).unwrap_or(&[]))
    }
}

fn fill(body: &Body<'_>, out: &mut [u8]) -> Result<(), EncodeError> {
    let mut w = Writer { out, at: 0 };
    match body {
        Body::Request(r) => match r {
            Request::SecurityAuth { payload } => w.data(payload)?,
            Request::BroadcastTime { time } => w.time(time, TimeLayout::YyMmDdHhMmSs)?,
            Request::Read { di, extra } => {
                w.di(di)?;
                w.data(extra)?;
            }
            Request::ReadFollowUp { di, seq } => {
                w.di(di)?;
                if let Some(s) = seq {
                    w.put(&[*s])?;
                }
            }
            Request::ReRead | Request::ReadAddress => {}
            Request::Write {
                di,
                password,
                operator,
                data,
            } => {
                w.di(di)?;
                w.put(&password.to_plain())?;
                if let Some(op) = operator {
                    w.put(&op.0)?;
                }
                w.data(data)?;
            }
            Request::WriteAddress { address } => w.put(&address.to_wire())?,
            Request::Freeze { time } => w.put(&time.0)?,
            Request::ChangeBaud { baud } => w.put(&[baud.to_word()])?,
            Request::ChangePassword { di, old, new } => {
                if let Some(d) = di {
                    w.put(&d.to_wire())?;
                }
                w.put(&old.to_plain())?;
                w.put(&new.to_plain())?;
            }
            Request::ClearMaxDemand { auth } => {
                if let Some(a) = auth {
                    w.put(&a.to_plain())?;
                }
            }
            Request::ClearMeter { auth } => w.put(&auth.to_plain())?,
            Request::ClearEvents { auth, event } => {
                w.put(&auth.to_plain())?;
                w.put(&event.to_wire())?;
            }
            Request::RemoteControl(rc) => {
                w.put(&rc.auth.to_plain())?;
                match &rc.body {
                    RemoteBody::Plain {
                        command,
                        reserved,
                        valid_until,
                    } => {
                        w.put(&[command.to_byte(), *reserved])?;
                        w.time(valid_until, TimeLayout::YyMmDdHhMmSs)?;
                    }
                    RemoteBody::Encrypted(d) => w.data(d)?,
                }
            }
            Request::MultiFunctionOutput { mode } => w.put(&[*mode])?,
        },
        Body::Reply(r) => match r {
            Reply::Read { di, data, .. } | Reply::ReRead { di, data, .. } => {
                w.di(di)?;
                w.data(data)?;
            }
            Reply::ReadFollowUp { di, data, seq, .. } => {
                w.di(di)?;
                w.data(data)?;
                if let Some(s) = seq {
                    w.put(&[*s])?;
                }
            }
            Reply::ReadAddress { address } => w.put(&address.to_wire())?,
            Reply::ChangeBaud { baud } => w.put(&[baud.to_word()])?,
            Reply::ChangePassword { new } => w.put(&new.to_plain())?,
            Reply::MultiFunctionOutput { mode } => w.put(&[*mode])?,
            Reply::SecurityAuth { payload } => w.data(payload)?,
            Reply::Ack(_) => {}
        },
        Body::Abnormal { error, extra, .. } => {
            w.put(&[error.0])?;
            w.data(extra)?;
        }
        Body::Unknown { data, .. } => w.data(data)?,
    }
    Ok(())
}

fn parse_request<'a>(f: Function, e: Edition, data: Data<'a>) -> Result<Request<'a>, ParseError> {
    let v2007 = e == Edition::V2007;
    Ok(match f {
        Function::SecurityAuth => Request::SecurityAuth { payload: data },
        Function::BroadcastTime => {
            need(f, &data, 6, true)?;
            Request::BroadcastTime {
                time: DateTime::parse(TimeLayout::YyMmDdHhMmSs, data)?,
            }
        }
        Function::Read => {
            let (di, extra) = split_di(f, e, data)?;
            if !v2007 && !extra.is_empty() {
                need(f, &data, e.di_len(), true)?;
            }
            Request::Read { di, extra }
        }
        Function::ReadFollowUp => {
            let (di, rest) = split_di(f, e, data)?;
            let seq = if v2007 {
                need(f, &data, 5, true)?;
                rest.get(0)
            } else {
                need(f, &data, 2, true)?;
                None
            };
            Request::ReadFollowUp { di, seq }
        }
        Function::ReRead => {
            need(f, &data, 0, true)?;
            Request::ReRead
        }
        Function::ReadAddress => {
            need(f, &data, 0, true)?;
            Request::ReadAddress
        }
        Function::Write => {
            let (di, rest) = split_di(f, e, data)?;
            let fixed = if v2007 { 8 } else { 4 };
            need(f, &rest, fixed, false)?;
            let (head, value) = rest.split_at(fixed).unwrap_or((Data::EMPTY, Data::EMPTY));
            let (p, c) = head.split_at(4).unwrap_or((Data::EMPTY, Data::EMPTY));
            Request::Write {
                di,
                password: Password::from_plain(chunk::<4>(&p)),
                operator: v2007.then(|| OperatorCode(chunk::<4>(&c))),
                data: value,
            }
        }
        Function::WriteAddress => {
            need(f, &data, 6, true)?;
            Request::WriteAddress {
                address: Address::from_wire(chunk::<6>(&data))?,
            }
        }
        Function::Freeze => {
            need(f, &data, 4, true)?;
            let t = chunk::<4>(&data);
            if let Some((i, &b)) = t
                .iter()
                .enumerate()
                .find(|(_, b)| !crate::value::is_bcd_byte(**b))
            {
                return Err(ValueError::Bcd {
                    offset: i as u8,
                    byte: b,
                }
                .into());
            }
            Request::Freeze {
                time: FreezeTime(t),
            }
        }
        Function::ChangeBaud => {
            need(f, &data, 1, true)?;
            Request::ChangeBaud {
                baud: BaudRate::from_word(data.get(0).unwrap_or(0)),
            }
        }
        Function::ChangePassword => {
            let (di, rest) = if v2007 {
                need(f, &data, 12, true)?;
                let (d, r) = data.split_at(4).unwrap_or((Data::EMPTY, Data::EMPTY));
                (Some(Di::from_wire(chunk::<4>(&d))), r)
            } else {
                need(f, &data, 8, true)?;
                (None, data)
            };
            let b = chunk::<8>(&rest);
            Request::ChangePassword {
                di,
                old: Password::from_plain([b[0], b[1], b[2], b[3]]),
                new: Password::from_plain([b[4], b[5], b[6], b[7]]),
            }
        }
        Function::ClearMaxDemand => {
            if v2007 {
                need(f, &data, 8, true)?;
                Request::ClearMaxDemand {
                    auth: Some(auth_of(&data)),
                }
            } else {
                need(f, &data, 0, true)?;
                Request::ClearMaxDemand { auth: None }
            }
        }
        Function::ClearMeter => {
            need(f, &data, 8, true)?;
            Request::ClearMeter {
                auth: auth_of(&data),
            }
        }
        Function::ClearEvents => {
            need(f, &data, 12, true)?;
            let (a, d) = data.split_at(8).unwrap_or((Data::EMPTY, Data::EMPTY));
            Request::ClearEvents {
                auth: auth_of(&a),
                event: Di::from_wire(chunk::<4>(&d)),
            }
        }
        Function::RemoteControl => {
            need(f, &data, 8, false)?;
            let (a, rest) = data.split_at(8).unwrap_or((Data::EMPTY, Data::EMPTY));
            let auth = auth_of(&a);
            let plain = rest.len() == 8 && !matches!(auth.password.level, 0x98 | 0x99);
            let body = if plain {
                let (n, t) = rest.split_at(2).unwrap_or((Data::EMPTY, Data::EMPTY));
                RemoteBody::Plain {
                    command: RemoteCommand::from_byte(n.get(0).unwrap_or(0)),
                    reserved: n.get(1).unwrap_or(0),
                    valid_until: DateTime::parse(TimeLayout::YyMmDdHhMmSs, t)?,
                }
            } else {
                RemoteBody::Encrypted(rest)
            };
            Request::RemoteControl(RemoteControl { auth, body })
        }
        Function::MultiFunctionOutput => {
            need(f, &data, 1, true)?;
            Request::MultiFunctionOutput {
                mode: data.get(0).unwrap_or(0),
            }
        }
        Function::Unknown(c) => return Err(ParseError::UnknownFunction(c)),
    })
}

fn parse_reply<'a>(
    f: Function,
    e: Edition,
    data: Data<'a>,
    more: bool,
) -> Result<Reply<'a>, ParseError> {
    let v2007 = e == Edition::V2007;
    let empty = |r: Reply<'a>| -> Result<Reply<'a>, ParseError> {
        need(f, &data, 0, true)?;
        Ok(r)
    };
    match f {
        Function::Read => {
            let (di, data) = split_di(f, e, data)?;
            Ok(Reply::Read { di, data, more })
        }
        Function::ReRead => {
            let (di, data) = split_di(f, e, data)?;
            Ok(Reply::ReRead { di, data, more })
        }
        Function::ReadFollowUp => {
            let (di, rest) = split_di(f, e, data)?;
            if v2007 {
                need(f, &data, 5, false)?;
                let (d, s) = rest
                    .split_at(rest.len() - 1)
                    .unwrap_or((Data::EMPTY, Data::EMPTY));
                Ok(Reply::ReadFollowUp {
                    di,
                    data: d,
                    seq: s.get(0),
                    more,
                })
            } else {
                Ok(Reply::ReadFollowUp {
                    di,
                    data: rest,
                    seq: None,
                    more,
                })
            }
        }
        Function::ReadAddress => {
            need(f, &data, 6, true)?;
            Ok(Reply::ReadAddress {
                address: Address::from_wire(chunk::<6>(&data))?,
            })
        }
        Function::ChangeBaud => {
            need(f, &data, 1, true)?;
            Ok(Reply::ChangeBaud {
                baud: BaudRate::from_word(data.get(0).unwrap_or(0)),
            })
        }
        Function::ChangePassword => {
            need(f, &data, 4, true)?;
            Ok(Reply::ChangePassword {
                new: Password::from_plain(chunk::<4>(&data)),
            })
        }
        Function::MultiFunctionOutput => {
            need(f, &data, 1, true)?;
            Ok(Reply::MultiFunctionOutput {
                mode: data.get(0).unwrap_or(0),
            })
        }
        Function::SecurityAuth => Ok(Reply::SecurityAuth { payload: data }),
        Function::Write
        | Function::WriteAddress
        | Function::Freeze
        | Function::ClearMaxDemand
        | Function::ClearMeter
        | Function::ClearEvents
        | Function::RemoteControl
        | Function::BroadcastTime => empty(Reply::Ack(f)),
        Function::Unknown(c) => Err(ParseError::UnknownFunction(c)),
    }
}

impl core::fmt::Display for Repr<'_> {
    /// One line for logs and consoles: edition, meter address, direction, function, the data
    /// identifier where there is one, and the data length; e.g.
    /// `2007 000000000101 request read 00010000, 4 B` or
    /// `2007 000000000101 abnormal read: 02 (no_requested_data)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {} ", self.edition, self.address)?;
        match &self.body {
            Body::Request(r) => {
                write!(f, "request {}", r.function())?;
                if let Some(di) = r.di() {
                    write!(f, " {di}")?;
                }
            }
            Body::Reply(r) => {
                write!(f, "reply {}", r.function())?;
                if let Some((di, _)) = r.di_data() {
                    write!(f, " {di}")?;
                }
                if r.more() {
                    f.write_str(" (more follows)")?;
                }
            }
            Body::Abnormal {
                function, error, ..
            } => return write!(f, "abnormal {function}: {error}"),
            Body::Unknown { control, .. } => write!(f, "unknown control {control}")?,
        }
        write!(f, ", {} B", self.data_len())
    }
}
