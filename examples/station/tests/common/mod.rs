//! The fake terminal and the helpers the master-station tests share: an `amikit-gdw376`
//! terminal session over TCP whose request handler answers from a table the test controls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unused_imports,
    unreachable_pub
)]

pub use std::collections::HashMap;
pub use std::net::SocketAddr;
pub use std::sync::atomic::{AtomicBool, Ordering};
pub use std::sync::{Arc, Mutex};
pub use std::time::Duration;

pub use amikit_dlt645::{
    Address as Address645, Body, Data, DataId, Di, Edition, ErrorWord, Function, RemoteCommand,
    Reply, Repr as Repr645, Request as Request645,
};
pub use amikit_gdw376::format::{Format14, Format15};
pub use amikit_gdw376::identity::AesCmacIdentity;
pub use amikit_gdw376::security::AesCmacPw;
pub use amikit_gdw376::session::terminal::{
    ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
};
use amikit_gdw376::units::UnitLayout as _;
pub use amikit_gdw376::units::{
    EventBlock, EventRecord, EventRequest, ForwardReply, ForwardRequest, Reader, Registers, Writer,
    read_options,
};
pub use amikit_gdw376::{Address, Afn, Instant, Profile};
pub use amikit_prepay::TrackerConfig;
pub use amikit_station::clock::{Civil, SimClock};
pub use amikit_station::keys::TerminalKeys;
pub use amikit_station::master::{
    ControlVia, MasterHandle, MasterOptions, http_json, http_list, http_raw,
};

/// The simulated clock of each master started by [`start`], by its terminal port: the fake
/// terminals take their calendar time (for Tp) from it.
static CLOCKS: std::sync::OnceLock<Mutex<HashMap<SocketAddr, SimClock>>> =
    std::sync::OnceLock::new();

fn clocks() -> std::sync::MutexGuard<'static, HashMap<SocketAddr, SimClock>> {
    CLOCKS.get_or_init(Default::default).lock().unwrap()
}

/// Starts a master station ([`amikit_station::master::start`]) and registers its clock.
pub async fn start(o: MasterOptions) -> amikit_station::master::MasterResult<MasterHandle> {
    let m = amikit_station::master::start(o).await?;
    clocks().insert(m.terminal_addr(), m.clock().clone());
    Ok(m)
}
pub use amikit_station::site::Site;
pub use serde_json::{Value, json};
pub use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub use tokio::net::TcpStream;

// ---- the fake terminal -------------------------------------------------------------------

#[derive(Debug, Default)]
pub struct Table {
    /// Register per pn, Wh.
    pub energy: HashMap<u16, i64>,
    /// pn per DL/T 645 address.
    pub pn_of: HashMap<[u8; 6], u16>,
    /// Relay per pn (true = open).
    pub relay_open: HashMap<u16, bool>,
    /// Remaining money per pn, 0.01 yuan.
    pub remaining_fen: HashMap<u16, u32>,
    /// Deny every command.
    pub deny: bool,
    /// AFN 05 commands received: (pn, Fn).
    pub afn05: Vec<(u16, u8)>,
    /// DL/T 645 remote commands received through AFN 10: (pn, command).
    pub dlt645: Vec<(u16, RemoteCommand)>,
    /// Stored important events (ERC, data).
    pub events: Vec<(u8, Vec<u8>)>,
    /// Events not yet counted by the session.
    pub new_events: usize,
    /// Reads answered.
    pub reads: u32,
    /// Hold what the master sends (unprocessed) until cleared: a terminal that is slow to
    /// answer, so that the master's requests stay outstanding and its queue fills.
    pub hold: bool,
    /// Unsolicited AFN 0E reports still to send (one per loop turn).
    pub reports: usize,
    /// Trips still to confirm without the relay acting (a relay that refuses to open).
    pub stuck: u32,
}

pub struct Handler<'a> {
    pub t: &'a mut Table,
    pub ec: (u8, u8),
}

pub fn money_bcd(fen: u32) -> [u8; 4] {
    let mut out = [0u8; 4];
    let mut v = fen;
    for b in &mut out {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        *b = (hi << 4) | lo;
    }
    out
}

impl Handler<'_> {
    fn forward(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, Refusal> {
        let mut r = Reader::new(data, read_options(&Profile::STRICT_2013));
        let fr = ForwardRequest::parse(&mut r).map_err(|_| Refusal::NoData)?;
        let req = Repr645::parse_bytes(fr.payload, Edition::V2007).map_err(|_| Refusal::NoData)?;
        let pn = *self
            .t
            .pn_of
            .get(&req.address.to_wire())
            .ok_or(Refusal::NoData)?;
        let body = match req.body {
            Body::Request(Request645::RemoteControl(rc)) => {
                let cmd = rc.command().unwrap();
                self.t.dlt645.push((pn, cmd));
                if self.t.deny {
                    Body::Abnormal {
                        function: Function::RemoteControl,
                        error: ErrorWord(0x04),
                        extra: Data::EMPTY,
                    }
                } else {
                    if cmd == RemoteCommand::Trip {
                        if self.t.stuck > 0 {
                            self.t.stuck -= 1;
                        } else {
                            self.t.relay_open.insert(pn, true);
                        }
                    }
                    Body::Reply(Reply::Ack(Function::RemoteControl))
                }
            }
            Body::Request(Request645::Read {
                di: DataId::V2007(di),
                ..
            }) => {
                let bytes: Vec<u8> = if di == Di::STATUS_WORD_3 {
                    let open = self.t.relay_open.get(&pn).copied().unwrap_or(false);
                    vec![if open { 0x50 } else { 0 }, 0]
                } else if di == Di::REMAINING_MONEY {
                    money_bcd(self.t.remaining_fen.get(&pn).copied().unwrap_or(0)).to_vec()
                } else {
                    return Err(Refusal::NoData);
                };
                let reply = Repr645::new(
                    Edition::V2007,
                    req.address,
                    Body::Reply(Reply::Read {
                        di: DataId::V2007(di),
                        data: Data::plain(&bytes),
                        more: false,
                    }),
                );
                let mut buf = [0u8; 64];
                let n = reply.emit(&mut buf).unwrap();
                let mut w = Writer::new(out);
                ForwardReply {
                    port: fr.port,
                    payload: &buf[..n],
                }
                .emit(&mut w)
                .map_err(|_| Refusal::NoData)?;
                return Ok(w.pos());
            }
            _ => return Err(Refusal::NoData),
        };
        let reply = Repr645::new(Edition::V2007, req.address, body);
        let mut buf = [0u8; 64];
        let n = reply.emit(&mut buf).unwrap();
        let mut w = Writer::new(out);
        ForwardReply {
            port: fr.port,
            payload: &buf[..n],
        }
        .emit(&mut w)
        .map_err(|_| Refusal::NoData)?;
        Ok(w.pos())
    }
}

impl RequestHandler for Handler<'_> {
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        match (req.afn, req.fn_.0) {
            (Afn::CLASS1, 129) => {
                let wh = *self.t.energy.get(&req.pn.0).ok_or(Refusal::NoData)?;
                self.t.reads += 1;
                let mut w = Writer::new(out);
                let t = Format15 {
                    minute: 0,
                    hour: 10,
                    day: 2,
                    month: 3,
                    year: 26,
                };
                Registers::write(
                    &mut w,
                    Some(&t),
                    &[Some(Format14::from_mantissa(wh * 10).unwrap())],
                )
                .map_err(|_| Refusal::NoData)?;
                Ok(w.pos())
            }
            (Afn::FORWARD, 1) => self.forward(req.data, out),
            (Afn::CLASS3, 1) => {
                let mut r = Reader::new(req.data, read_options(&Profile::STRICT_2013));
                let q = EventRequest::parse(&mut r).map_err(|_| Refusal::NoData)?;
                let recs: Vec<EventRecord<'_>> = (q.pm..q.pn)
                    .filter_map(|i| self.t.events.get(usize::from(i)))
                    .map(|(erc, data)| EventRecord { erc: *erc, data })
                    .collect();
                let mut w = Writer::new(out);
                EventBlock::write(&mut w, self.ec.0, self.ec.1, q.pm, recs)
                    .map_err(|_| Refusal::NoData)?;
                Ok(w.pos())
            }
            _ => Err(Refusal::NoData),
        }
    }

    fn command(&mut self, req: &ItemRequest<'_>) -> Result<(), Refusal> {
        if req.afn != Afn::CONTROL {
            return Err(Refusal::Denied);
        }
        self.t.afn05.push((req.pn.0, req.fn_.0));
        if self.t.deny {
            return Err(Refusal::Denied);
        }
        if req.fn_.0 == 1 {
            if self.t.stuck > 0 {
                self.t.stuck -= 1;
            } else {
                self.t.relay_open.insert(req.pn.0, true);
            }
        }
        // F2 allow-close: the customer closes the relay at once.
        if req.fn_.0 == 2 {
            self.t.relay_open.insert(req.pn.0, false);
        }
        Ok(())
    }
}

pub struct Fake {
    pub table: Arc<Mutex<Table>>,
    pub drop_link: Arc<AtomicBool>,
    pub stop: Arc<AtomicBool>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub fn start(master: SocketAddr, a2: u32, meters: &[(u16, &str, i64)]) -> Fake {
        Fake::start_keyed(master, a2, meters, terminal_keys(a2))
    }

    /// A fake terminal with the keys `keys` (another terminal's: an impostor).
    pub fn start_keyed(
        master: SocketAddr,
        a2: u32,
        meters: &[(u16, &str, i64)],
        keys: TerminalKeys,
    ) -> Fake {
        let mut t = Table::default();
        for &(pn, address, wh) in meters {
            t.energy.insert(pn, wh);
            t.pn_of
                .insert(Address645::parse(address).unwrap().to_wire(), pn);
        }
        let table = Arc::new(Mutex::new(t));
        let drop_link = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run_fake(
            master,
            a2,
            keys,
            table.clone(),
            drop_link.clone(),
            stop.clone(),
        ));
        Fake {
            table,
            drop_link,
            stop,
            task,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        f(&mut self.table.lock().unwrap())
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
    }
}

pub async fn run_fake(
    master: SocketAddr,
    a2: u32,
    keys: TerminalKeys,
    table: Arc<Mutex<Table>>,
    drop_link: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let mut cfg = TerminalConfig::new(Address::new(0x4403, a2));
    cfg.heartbeat_period = std::time::Duration::from_millis(500);
    // Long enough that a terminal holding frames (`Table::hold`) keeps its link.
    cfg.response_timeout = std::time::Duration::from_secs(5);
    // Tp required on every request, reads included (as the station's terminal), against the
    // master's clock.
    cfg.require_tp = true;
    cfg.require_tp_on_reads = true;
    let mut term: Terminal<AesCmacPw, 2048, 4096, AesCmacIdentity, 256, 4096> =
        Terminal::with_keys(cfg, keys.pw(), keys.identity());
    let origin = std::time::Instant::now();
    let now = || Instant(origin.elapsed().as_millis() as u64);
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut stream) = TcpStream::connect(master).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        term.connected(now());
        let clock = clocks().get(&master).cloned();
        if let Some(clock) = clock
            && let Some(wall) = amikit_station::master::wall_376(clock.now())
        {
            term.set_wall_clock_scaled(now(), wall, clock.speed());
        }
        let mut out = vec![0u8; 4096];
        let mut inbuf = vec![0u8; 1024];
        let mut held: Vec<u8> = Vec::new();
        loop {
            {
                let mut t = table.lock().unwrap();
                if !t.hold && !held.is_empty() {
                    let ec = term.event_counters();
                    let mut h = Handler {
                        t: &mut t,
                        ec: (ec.important, ec.normal),
                    };
                    term.on_bytes(now(), &held, &mut h, &mut |_| {});
                    held.clear();
                }
            }
            {
                let mut t = table.lock().unwrap();
                for _ in 0..t.new_events {
                    term.record_event(true);
                }
                t.new_events = 0;
                // p0 F1 with no records: an (empty) unsolicited event report.
                if t.reports > 0
                    && term
                        .report(now(), Afn::CLASS3, &[0, 0, 1, 0], false)
                        .is_some()
                {
                    t.reports -= 1;
                }
            }
            let n = term.poll(now(), &mut out, &mut |_| {});
            if n > 0 && stream.write_all(&out[..n]).await.is_err() {
                break;
            }
            if stop.load(Ordering::SeqCst) || drop_link.swap(false, Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                r = stream.read(&mut inbuf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut t = table.lock().unwrap();
                        if t.hold {
                            held.extend_from_slice(&inbuf[..n]);
                            continue;
                        }
                        let ec = term.event_counters();
                        let mut h = Handler { t: &mut t, ec: (ec.important, ec.normal) };
                        term.on_bytes(now(), &inbuf[..n], &mut h, &mut |_| {});
                    }
                },
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
        term.disconnected(now());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- helpers ------------------------------------------------------------------------------

/// The site key of terminal `a2` in [`site`] (hex).
pub fn terminal_key(a2: u32) -> String {
    format!(
        "{:032x}",
        u128::from(a2).wrapping_mul(0x0123_4567_89ab_cdef_0fed_cba9_8765_4321) + 7
    )
}

/// The derived keys of terminal `a2` in [`site`].
pub fn terminal_keys(a2: u32) -> TerminalKeys {
    TerminalKeys::from_hex(&terminal_key(a2)).unwrap()
}

pub const VENDING_KEY: &str = "abababababababab949494949494949401234567";

pub struct M<'a> {
    pub pn: u16,
    pub address: &'a str,
    pub customer: &'a str,
    pub fee: &'a str,
    pub opening: &'a str,
    pub kwh: &'a str,
    pub guarded: bool,
}

pub fn site(a2: u32, meters: &[M<'_>]) -> Site {
    let mut s = format!(
        "region = \"4403\"\nmsa = 1\n[[tariffs]]\nname = \"residential\"\n\
         file = \"examples/tariffs/cn-residential-steps-tou.toml\"\n\
         [[terminals]]\na2 = {a2}\nkey = \"{}\"\n",
        terminal_key(a2)
    );
    for m in meters {
        s.push_str(&format!(
            "[[terminals.meters]]\npn = {}\naddress = \"{}\"\ncustomer = \"{}\"\n\
             phone = \"+86 138 0000 0{}\"\ntariff = \"residential\"\nfee_control = \"{}\"\n\
             opening_balance = \"{}\"\nopening_kwh = \"{}\"\nload_watts = 1000\n\
             alarm_threshold = \"8.00\"\ntrip_threshold = \"0.00\"\nguarded = {}\n\
             max_demand_kw = \"100000\"\n",
            m.pn, m.address, m.customer, m.pn, m.fee, m.opening, m.kwh, m.guarded
        ));
        if m.fee == "local" {
            s.push_str(
                "sts = { pan = \"600727000000000009\", sgc = \"123457\", ti = \"01\", krn = 1, \
                 kt = 2, base_date = 2014 }\n",
            );
        }
    }
    s.push_str(&format!("[vending]\ndkga04_key = \"{VENDING_KEY}\"\n"));
    Site::parse(&s).unwrap()
}

pub fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("amikit-master-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("master.db")
}

pub fn options(site: Site, db: std::path::PathBuf) -> MasterOptions {
    // 10:00 on a Monday: the peak price (0.568 yuan/kWh) holds for hours of simulated time.
    let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 60);
    let mut o = MasterOptions::new(site, db, clock);
    o.read_every = 30; // half a real second
    o.response_timeout_ms = 500;
    o
}

/// The master's bootstrap admin key (tests start masters without operators).
pub fn key(m: &MasterHandle) -> String {
    m.bootstrap_key().unwrap().expose().to_string()
}

/// GETs `path`; a list's pages are all fetched and answered as one array.
pub async fn get(m: &MasterHandle, path: &str) -> Value {
    let (status, v) = http_json(m.http_addr(), &key(m), "GET", path, None)
        .await
        .unwrap();
    if status == 200 && v.get("items").is_some() && v.get("next").is_some() {
        return Value::Array(http_list(m.http_addr(), &key(m), path).await.unwrap());
    }
    assert_eq!(status, 200, "{path}: {v}");
    v
}

pub async fn post(m: &MasterHandle, path: &str, body: Value) -> (u16, Value) {
    http_json(m.http_addr(), &key(m), "POST", path, Some(body))
        .await
        .unwrap()
}

/// Polls `f` until it returns `Some`, or fails after `secs` seconds.
pub async fn until<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn customer(m: &MasterHandle, name: &str) -> Value {
    get(m, "/api/customers")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}

pub async fn commands(m: &MasterHandle, name: &str) -> Vec<Value> {
    get(
        m,
        &format!("/api/commands?customer={}", name.replace(' ', "%20")),
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

pub fn has(cmds: &[Value], kind: &str, status: &str) -> bool {
    cmds.iter()
        .any(|c| c["kind"] == kind && c["status"] == status)
}

pub async fn readings(m: &MasterHandle, address: &str) -> usize {
    get(m, &format!("/api/readings?meter={address}"))
        .await
        .as_array()
        .unwrap()
        .len()
}

pub fn money(v: &Value) -> amikit_tariff::Money {
    amikit_tariff::Money::parse(v.as_str().unwrap()).unwrap()
}
