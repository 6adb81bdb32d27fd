//! The master station against a fake terminal: a `amikit-gdw376` terminal session over TCP
//! whose request handler answers from a table the test controls (register values, relay and
//! remaining money of DL/T 645 reads, confirm or deny commands, stored ERC events).
//!
//! Asserts: reading → tariff → engine → reminder (outbox), trip (AFN 05 F1, acknowledged),
//! a payment cancelling a pending trip and issuing allow close, idempotent payments (also
//! across a restart), guard (never tripped), manual jobs after repeated denials, control through
//! AFN 10 + DL/T 645 `1C`, STS vending (the token decodes on a meter with the site's keys),
//! event pulls on ACD, a dropped link.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amikit_dlt645::{
    Address as Address645, Body, Data, DataId, Di, Edition, ErrorWord, Function, RemoteCommand,
    Reply, Repr as Repr645, Request as Request645,
};
use amikit_gdw376::format::{Format14, Format15};
use amikit_gdw376::session::terminal::{
    ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
};
use amikit_gdw376::units::{
    EventBlock, EventRecord, EventRequest, ForwardReply, ForwardRequest, Reader, Registers, Writer,
    read_options,
};
use amikit_gdw376::{Address, Afn, Instant, Profile};
use amikit_prepay::TrackerConfig;
use amikit_station::clock::{Civil, SimClock};
use amikit_station::master::{ControlVia, MasterHandle, MasterOptions, http_json, start};
use amikit_station::site::Site;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---- the fake terminal -------------------------------------------------------------------

#[derive(Debug, Default)]
struct Table {
    /// Register per pn, Wh.
    energy: HashMap<u16, i64>,
    /// pn per DL/T 645 address.
    pn_of: HashMap<[u8; 6], u16>,
    /// Relay per pn (true = open).
    relay_open: HashMap<u16, bool>,
    /// Remaining money per pn, 0.01 yuan.
    remaining_fen: HashMap<u16, u32>,
    /// Deny every command.
    deny: bool,
    /// AFN 05 commands received: (pn, Fn).
    afn05: Vec<(u16, u8)>,
    /// DL/T 645 remote commands received through AFN 10: (pn, command).
    dlt645: Vec<(u16, RemoteCommand)>,
    /// Stored important events (ERC, data).
    events: Vec<(u8, Vec<u8>)>,
    /// Events not yet counted by the session.
    new_events: usize,
    /// Reads answered.
    reads: u32,
}

struct Handler<'a> {
    t: &'a mut Table,
    ec: (u8, u8),
}

fn money_bcd(fen: u32) -> [u8; 4] {
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
                        self.t.relay_open.insert(pn, true);
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
            self.t.relay_open.insert(req.pn.0, true);
        }
        Ok(())
    }
}

struct Fake {
    table: Arc<Mutex<Table>>,
    drop_link: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    fn start(master: SocketAddr, a2: u32, meters: &[(u16, &str, i64)]) -> Fake {
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

    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        f(&mut self.table.lock().unwrap())
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
    }
}

async fn run_fake(
    master: SocketAddr,
    a2: u32,
    table: Arc<Mutex<Table>>,
    drop_link: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let mut cfg = TerminalConfig::new(Address::new(0x4403, a2));
    cfg.heartbeat_ms = 500;
    cfg.response_timeout_ms = 2000;
    // The station's master sends no Tp yet (issue 11).
    cfg.require_tp = false;
    let mut term: Terminal = Terminal::new(cfg);
    let origin = std::time::Instant::now();
    let now = || Instant(origin.elapsed().as_millis() as u64);
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut stream) = TcpStream::connect(master).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        term.connected(now());
        let mut out = vec![0u8; 4096];
        let mut inbuf = vec![0u8; 1024];
        loop {
            {
                let mut t = table.lock().unwrap();
                for _ in 0..t.new_events {
                    term.record_event(true);
                }
                t.new_events = 0;
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

const VENDING_KEY: &str = "abababababababab949494949494949401234567";

struct M<'a> {
    pn: u16,
    address: &'a str,
    customer: &'a str,
    fee: &'a str,
    opening: &'a str,
    kwh: &'a str,
    guarded: bool,
}

fn site(a2: u32, meters: &[M<'_>]) -> Site {
    let mut s = format!(
        "region = \"4403\"\nmsa = 1\n[[tariffs]]\nname = \"residential\"\n\
         file = \"examples/tariffs/cn-residential-steps-tou.toml\"\n\
         [[terminals]]\na2 = {a2}\n"
    );
    for m in meters {
        s.push_str(&format!(
            "[[terminals.meters]]\npn = {}\naddress = \"{}\"\ncustomer = \"{}\"\n\
             phone = \"+86 138 0000 0{}\"\ntariff = \"residential\"\nfee_control = \"{}\"\n\
             opening_balance = \"{}\"\nopening_kwh = \"{}\"\nload_watts = 1000\n\
             alarm_threshold = \"8.00\"\ntrip_threshold = \"0.00\"\nguarded = {}\n",
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

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("amikit-master-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("master.db")
}

fn options(site: Site, db: std::path::PathBuf) -> MasterOptions {
    // 10:00 on a Monday: the peak price (0.568 yuan/kWh) holds for hours of simulated time.
    let clock = SimClock::new(Civil::new(2026, 3, 2, 10, 0, 0), 60);
    let mut o = MasterOptions::new(site, db, clock);
    o.read_every = 30; // half a real second
    o.response_timeout_ms = 500;
    o
}

async fn get(m: &MasterHandle, path: &str) -> Value {
    let (status, v) = http_json(m.http_addr(), "GET", path, None).await.unwrap();
    assert_eq!(status, 200, "{path}: {v}");
    v
}

async fn post(m: &MasterHandle, path: &str, body: Value) -> (u16, Value) {
    http_json(m.http_addr(), "POST", path, Some(body))
        .await
        .unwrap()
}

/// Polls `f` until it returns `Some`, or fails after `secs` seconds.
async fn until<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
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

async fn customer(m: &MasterHandle, name: &str) -> Value {
    get(m, "/api/customers")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}

async fn commands(m: &MasterHandle, name: &str) -> Vec<Value> {
    get(
        m,
        &format!("/api/commands?customer={}", name.replace(' ', "%20")),
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

fn has(cmds: &[Value], kind: &str, status: &str) -> bool {
    cmds.iter()
        .any(|c| c["kind"] == kind && c["status"] == status)
}

async fn readings(m: &MasterHandle, address: &str) -> usize {
    get(m, &format!("/api/readings?meter={address}"))
        .await
        .as_array()
        .unwrap()
        .len()
}

fn money(v: &Value) -> amikit_tariff::Money {
    amikit_tariff::Money::parse(v.as_str().unwrap()).unwrap()
}

// ---- tests --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_trip_payment_allow_close_and_guard() {
    let db = temp_db("flow");
    let site = site(
        7,
        &[
            M {
                pn: 1,
                address: "000000000701",
                customer: "Li Wei",
                fee: "remote",
                opening: "12.00",
                kwh: "1000",
                guarded: false,
            },
            M {
                pn: 2,
                address: "000000000702",
                customer: "Clinic",
                fee: "remote",
                opening: "2.00",
                kwh: "40000",
                guarded: true,
            },
        ],
    );
    let m = start(options(site, db)).await.unwrap();
    let fake = Fake::start(
        m.terminal_addr(),
        7,
        &[
            (1, "000000000701", 1_000_000),
            (2, "000000000702", 40_000_000),
        ],
    );
    until("first readings", 20, || async {
        (readings(&m, "000000000701").await > 0 && readings(&m, "000000000702").await > 0)
            .then_some(())
    })
    .await;
    // The clinic is guarded from the start (AFN 05 F25 at pn 2, confirmed).
    until("guard on", 20, || async {
        has(&commands(&m, "Clinic").await, "guard_on", "acknowledged").then_some(())
    })
    .await;
    assert!(fake.with(|t| t.afn05.contains(&(2, 25))));
    // Its opening credit (2.00) is below the alarm threshold: a reminder alarm (F26) too.
    until("clinic reminder", 20, || async {
        has(&commands(&m, "Clinic").await, "alarm", "acknowledged").then_some(())
    })
    .await;

    // 8 kWh at the peak price (0.568): 4.544 yuan, 12.00 → 7.456 ≤ 8.00: reminder.
    fake.with(|t| *t.energy.get_mut(&1).unwrap() += 8_000);
    until("low credit reminder", 20, || async {
        let out = get(&m, "/api/outbox?customer=Li%20Wei").await;
        out.as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "low_credit")
            .then_some(())
    })
    .await;
    let li = customer(&m, "Li Wei").await;
    assert_eq!(li["credit"], "low");
    assert_eq!(
        money(&li["net"]),
        amikit_tariff::Money::parse("7.456").unwrap()
    );
    until("alarm command confirmed", 20, || async {
        has(&commands(&m, "Li Wei").await, "alarm", "acknowledged").then_some(())
    })
    .await;
    assert!(fake.with(|t| t.afn05.contains(&(1, 26))));

    // The terminal refuses commands for a while: the trip is retried, still pending.
    fake.with(|t| {
        t.deny = true;
        *t.energy.get_mut(&1).unwrap() += 20_000;
    });
    until("trip retried", 20, || async {
        has(&commands(&m, "Li Wei").await, "trip", "retry").then_some(())
    })
    .await;
    let li = customer(&m, "Li Wei").await;
    assert_eq!(li["credit"], "exhausted");
    assert_eq!(li["relay"], "open");

    // A payment restores credit: the pending trip is cancelled, allow close issued.
    let pay =
        json!({"customer": "Li Wei", "amount": "50.00", "order_no": "PAY-1", "channel": "wechat"});
    let (status, r) = post(&m, "/api/payments", pay.clone()).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "applied");
    let net_after = money(&r["net"]);
    assert!(
        net_after > amikit_tariff::Money::parse("30").unwrap(),
        "{r}"
    );
    let cmds = commands(&m, "Li Wei").await;
    assert!(has(&cmds, "trip", "cancelled"), "{cmds:?}");
    fake.with(|t| t.deny = false);
    until("allow close confirmed", 20, || async {
        has(&commands(&m, "Li Wei").await, "allow_close", "acknowledged").then_some(())
    })
    .await;
    let cmds = commands(&m, "Li Wei").await;
    let ac = cmds.iter().find(|c| c["kind"] == "allow_close").unwrap();
    assert_eq!(ac["reason"]["reason"]["close"], "payment", "{ac}");
    assert!(fake.with(|t| t.afn05.contains(&(1, 2))));

    // The same payment again changes nothing.
    let (status, r) = post(&m, "/api/payments", pay.clone()).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(
        money(&r["net"]),
        money(&customer(&m, "Li Wei").await["net"])
    );
    let (status, _) = post(
        &m,
        "/api/payments",
        json!({"customer": "Li Wei", "amount": "60.00", "order_no": "PAY-1"}),
    )
    .await;
    assert_eq!(status, 409);
    let payments = get(&m, "/api/payments?customer=Li%20Wei").await;
    assert_eq!(payments.as_array().unwrap().len(), 1);

    // The trip never reached the relay (cancelled): the status word read after the allow
    // close shows it closed, and the master's view follows (supply on, relay closed).
    until("supply on", 20, || async {
        let li = customer(&m, "Li Wei").await;
        (li["relay"] == "closed" && li["supply"] == "on").then_some(())
    })
    .await;

    // The clinic runs far below zero and is never tripped.
    fake.with(|t| *t.energy.get_mut(&2).unwrap() += 50_000);
    until("clinic negative", 20, || async {
        let c = customer(&m, "Clinic").await;
        money(&c["net"]).is_negative().then_some(c)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let cmds = commands(&m, "Clinic").await;
    assert!(!cmds.iter().any(|c| c["kind"] == "trip"), "{cmds:?}");
    assert!(!fake.with(|t| t.afn05.contains(&(2, 1))));
    let c = customer(&m, "Clinic").await;
    assert_eq!(
        (c["guarded"].as_bool(), c["supply"].as_str()),
        (Some(true), Some("on"))
    );

    // Events: payments, credit changes, commands.
    let ev = get(&m, "/api/events?customer=Li%20Wei").await;
    let kinds: Vec<&str> = ev
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "payment",
        "credit_state",
        "command_acknowledged",
        "command_cancelled",
    ] {
        assert!(kinds.contains(&k), "{k} missing in {kinds:?}");
    }
    let stats = get(&m, "/api/stats").await;
    assert!(stats["requests"].as_u64().unwrap() > 0);
    assert!(stats["latency_us"]["p99"].as_u64().is_some());

    fake.stop().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_and_applies_nothing_twice() {
    let db = temp_db("restart");
    let site = site(
        8,
        &[
            M {
                pn: 1,
                address: "000000000801",
                customer: "Wang Fang",
                fee: "remote",
                opening: "100.00",
                kwh: "2000",
                guarded: false,
            },
            M {
                pn: 2,
                address: "000000000802",
                customer: "Sun Li",
                fee: "remote",
                opening: "0.00",
                kwh: "100",
                guarded: false,
            },
        ],
    );
    // Commands are retried slowly and never escalate: Sun Li's trip (opening credit zero)
    // stays live across the restart while the terminal refuses it.
    let slow = TrackerConfig {
        validity: 1_000_000,
        ack_timeout: 300,
        retry_base: 60,
        retry_max: 120,
        max_failures: 100,
        restore_within: 900,
    };
    let mut opts = options(site.clone(), db.clone());
    opts.tracker = Some(slow);
    let m = start(opts).await.unwrap();
    let listen = m.terminal_addr();
    let fake = Fake::start(
        listen,
        8,
        &[(1, "000000000801", 2_000_000), (2, "000000000802", 100_000)],
    );
    fake.with(|t| t.deny = true);
    until("first reading", 20, || async {
        (readings(&m, "000000000801").await > 0).then_some(())
    })
    .await;
    fake.with(|t| *t.energy.get_mut(&1).unwrap() += 10_000);
    until("charged", 20, || async {
        let c = customer(&m, "Wang Fang").await;
        (money(&c["net"]) < amikit_tariff::Money::parse("100").unwrap()).then_some(())
    })
    .await;
    let pay = json!({"customer": "Wang Fang", "amount": "20", "order_no": "ORD-77"});
    let (status, r) = post(&m, "/api/payments", pay.clone()).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("applied")));

    // The TCP link drops: the master sees the terminal go offline and come back.
    fake.drop_link.store(true, Ordering::SeqCst);
    until("offline then online again", 20, || async {
        let ev = get(&m, "/api/events?kind=login").await;
        (ev.as_array().unwrap().len() >= 2).then_some(())
    })
    .await;
    let before = customer(&m, "Wang Fang").await;
    let n_readings = readings(&m, "000000000801").await;
    until("Sun Li's trip refused", 20, || async {
        let c = commands(&m, "Sun Li").await;
        c.iter()
            .any(|c| c["kind"] == "trip" && c["attempts"].as_i64() >= Some(1))
            .then_some(())
    })
    .await;
    let trip_id = commands(&m, "Sun Li")
        .await
        .iter()
        .find(|c| c["kind"] == "trip")
        .unwrap()["id"]
        .clone();
    m.shutdown().await;
    fake.with(|t| t.deny = false);

    // Restart on the same database and port.
    let mut opts2 = options(site, db);
    opts2.listen = listen;
    opts2.tracker = Some(slow);
    // The second run's clock starts where the first left off.
    opts2.clock = SimClock::new(Civil::new(2026, 3, 2, 12, 0, 0), 60);
    let m = start(opts2).await.unwrap();
    let after = customer(&m, "Wang Fang").await;
    assert_eq!(before["net"], after["net"]);
    assert_eq!(before["purchases"], after["purchases"]);
    assert!(readings(&m, "000000000801").await >= n_readings);
    let (status, r) = post(&m, "/api/payments", pay).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(r["net"], before["net"]);
    assert_eq!(get(&m, "/api/payments").await.as_array().unwrap().len(), 1);
    // The terminal reconnects on its own and readings continue.
    until("reading after restart", 20, || async {
        (readings(&m, "000000000801").await > n_readings).then_some(())
    })
    .await;
    assert_eq!(customer(&m, "Wang Fang").await["net"], before["net"]);
    // The live trip was sent again after the restart (same command row) and confirmed.
    until("trip confirmed after the restart", 20, || async {
        let c = commands(&m, "Sun Li").await;
        let trips: Vec<&Value> = c.iter().filter(|c| c["kind"] == "trip").collect();
        (trips.len() == 1 && trips[0]["status"] == "acknowledged" && trips[0]["id"] == trip_id)
            .then_some(())
    })
    .await;
    fake.stop().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_keep_failing_become_a_manual_job() {
    let db = temp_db("jobs");
    let site = site(
        9,
        &[M {
            pn: 3,
            address: "000000000903",
            customer: "Chen Jie",
            fee: "remote",
            opening: "0.50",
            kwh: "10",
            guarded: false,
        }],
    );
    let mut o = options(site, db);
    o.tracker = Some(TrackerConfig {
        validity: 100_000,
        ack_timeout: 300,
        retry_base: 1,
        retry_max: 2,
        max_failures: 3,
        restore_within: 900,
    });
    let m = start(o).await.unwrap();
    let fake = Fake::start(m.terminal_addr(), 9, &[(3, "000000000903", 10_000)]);
    fake.with(|t| t.deny = true);
    until("first reading", 20, || async {
        (readings(&m, "000000000903").await > 0).then_some(())
    })
    .await;
    // 2 kWh at 0.568: the credit runs out while the terminal is online and refusing.
    fake.with(|t| *t.energy.get_mut(&3).unwrap() += 2_000);
    let jobs = until("manual job for the trip", 30, || async {
        let j = get(&m, "/api/jobs").await;
        j.as_array()
            .unwrap()
            .iter()
            .find(|j| j["kind"] == "trip")
            .cloned()
    })
    .await;
    let _ = jobs;
    let j = get(&m, "/api/jobs").await;
    let trip = j
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "trip")
        .unwrap()
        .clone();
    assert!(
        trip["reason"]
            .as_str()
            .unwrap()
            .starts_with("too_many_failures"),
        "{trip}"
    );
    let cmds = commands(&m, "Chen Jie").await;
    assert!(has(&cmds, "trip", "failed"), "{cmds:?}");
    // Three attempts, each denied by the terminal.
    let trip_cmd = cmds.iter().find(|c| c["kind"] == "trip").unwrap();
    assert_eq!(trip_cmd["attempts"], 3, "{trip_cmd}");
    assert_eq!(
        fake.with(|t| t.afn05.iter().filter(|c| **c == (3, 1)).count()),
        3
    );
    fake.stop().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_through_afn10_and_dlt645() {
    let db = temp_db("afn10");
    let site = site(
        10,
        &[M {
            pn: 5,
            address: "000000001005",
            customer: "Zhao Lei",
            fee: "remote",
            opening: "0.00",
            kwh: "10",
            guarded: false,
        }],
    );
    let mut o = options(site, db);
    o.control_via = ControlVia::Afn10;
    let m = start(o).await.unwrap();
    let fake = Fake::start(m.terminal_addr(), 10, &[(5, "000000001005", 10_000)]);
    until("trip confirmed by the meter", 20, || async {
        has(&commands(&m, "Zhao Lei").await, "trip", "acknowledged").then_some(())
    })
    .await;
    assert!(fake.with(|t| t.dlt645.contains(&(5, RemoteCommand::Trip))));
    assert!(fake.with(|t| t.afn05.is_empty()));
    let cmds = commands(&m, "Zhao Lei").await;
    assert!(cmds.iter().all(|c| c["via"] == "afn10"));
    // The relay read back through AFN 10 + status word 3.
    until("relay open read back", 20, || async {
        (customer(&m, "Zhao Lei").await["meter_relay"] == "open").then_some(())
    })
    .await;
    // A meter that denies (DC reply): the allow close after a payment is retried.
    fake.with(|t| t.deny = true);
    let (status, _) = post(
        &m,
        "/api/payments",
        json!({"customer": "Zhao Lei", "amount": 10, "order_no": "Z-1"}),
    )
    .await;
    assert_eq!(status, 200);
    until("allow close retried", 20, || async {
        has(&commands(&m, "Zhao Lei").await, "allow_close", "retry").then_some(())
    })
    .await;
    fake.with(|t| t.deny = false);
    until("allow close confirmed", 20, || async {
        has(
            &commands(&m, "Zhao Lei").await,
            "allow_close",
            "acknowledged",
        )
        .then_some(())
    })
    .await;
    assert!(fake.with(|t| t.dlt645.contains(&(5, RemoteCommand::AllowClose))));
    fake.stop().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vending_local_meters_events_and_api_errors() {
    let db = temp_db("vend");
    let site = site(
        11,
        &[M {
            pn: 2,
            address: "000000001102",
            customer: "Zhang Min",
            fee: "local",
            opening: "3.00",
            kwh: "830.5",
            guarded: false,
        }],
    );
    let m = start(options(site.clone(), db)).await.unwrap();
    let fake = Fake::start(m.terminal_addr(), 11, &[(2, "000000001102", 830_500)]);
    fake.with(|t| {
        t.remaining_fen.insert(2, 300);
    });
    // Remaining money read through AFN 10: 3.00 ≤ 8.00 → a low-balance SMS. (A read made
    // before the fake meter got its 3.00 may have seen 0.00 first: wait for 3.00.)
    until("low balance of 3.00", 20, || async {
        let out = get(&m, "/api/outbox?customer=Zhang%20Min").await;
        let sms = out
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "low_credit");
        (sms && customer(&m, "Zhang Min").await["balance"] == "3.0000").then_some(())
    })
    .await;

    // A token for 20.00 at the peak price (0.568): 35.2 kWh (35.211… rounded down to tenths).
    let (status, t) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "20.00", "order_no": "TOK-1"}),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let digits = t["token"].as_str().unwrap().to_string();
    assert_eq!(digits.len(), 20);
    assert_eq!(t["kwh"], "35.200");
    // The meter with the site's keys accepts it and adds 352 tenths.
    use amikit_sts::dkga::{Dkga, VendingKey};
    use amikit_sts::keys::*;
    use amikit_sts::meter::{Action, Meter, MeterConfig};
    use amikit_sts::tid::BaseDate;
    let params = KeyParameters {
        pan: "600727000000000009".parse().unwrap(),
        sgc: "123457".parse().unwrap(),
        ti: TariffIndex::new(1).unwrap(),
        krn: KeyRevision::new(1).unwrap(),
        kt: KeyType::Unique,
        base_date: BaseDate::Y2014,
        ea: EncryptionAlgorithm::Misty1,
    };
    let key: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&VENDING_KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let dkey = VendingKey::new(Dkga::Dkga04, &key)
        .unwrap()
        .derive(&params)
        .unwrap();
    let mut meter: Meter<'_, 8> =
        Meter::new(MeterConfig::from_parameters(dkey, &params), None).unwrap();
    let accepted = meter.enter_str(&digits, 0).unwrap();
    assert!(matches!(
        accepted.action,
        Action::AddCredit { tenths: 352, .. }
    ));
    // The same order number returns the same token; a new one gets a new TID.
    let (_, again) = post(
        &m,
        "/api/tokens",
        json!({"meter": "000000001102", "amount": "20.00", "order_no": "TOK-1"}),
    )
    .await;
    assert_eq!(
        (again["status"].as_str(), again["token"].as_str()),
        (Some("duplicate"), Some(digits.as_str()))
    );
    let (_, t2) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "5", "order_no": "TOK-2"}),
    )
    .await;
    assert_ne!(t2["tid"], t["tid"]);
    assert!(meter.enter_str(t2["token"].as_str().unwrap(), 60).is_ok());

    // The terminal raises ACD: the master pulls the event and stores it once.
    fake.with(|t| {
        // ERC 33 in the amikit layout: time (format 15), pn 2, status word before / after,
        // cause.
        t.events.push((
            33,
            vec![0x00, 0x10, 0x02, 0x03, 0x26, 0x02, 0x00, 0, 0, 0x50, 0, 2],
        ));
        t.new_events += 1;
    });
    until("event pulled", 20, || async {
        let ev = get(&m, "/api/events?kind=erc33").await;
        (ev.as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ev = get(&m, "/api/events?kind=erc33").await;
    assert_eq!(ev[0]["customer"], "Zhang Min");
    assert_eq!(ev[0]["detail"]["name"], "meter_status");
    assert_eq!(
        ev[0]["detail"]["event"]["Other"]["time"],
        "2026-03-02T10:00"
    );
    assert_eq!(
        get(&m, "/api/events?kind=erc33")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // API errors.
    let (s, _) = post(
        &m,
        "/api/payments",
        json!({"customer": "Nobody", "amount": "1", "order_no": "x"}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = post(
        &m,
        "/api/payments",
        json!({"customer": "Zhang Min", "amount": "1", "order_no": "x"}),
    )
    .await;
    assert_eq!(s, 409, "local fee control: tokens, not payments");
    let (s, _) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": 1.5, "order_no": "y"}),
    )
    .await;
    assert_eq!(s, 400, "floating-point money is refused");
    let (s, _) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "-1", "order_no": "y"}),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = post(
        &m,
        "/api/guard",
        json!({"customer": "Zhang Min", "on": true}),
    )
    .await;
    assert_eq!(s, 409);
    let terms = get(&m, "/api/terminals").await;
    assert_eq!(terms[0]["online"], true);
    fake.stop().await;
    m.shutdown().await;
}
