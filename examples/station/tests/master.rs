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

mod common;

use common::*;

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
    // Every request carries Tp (the terminal requires it, reads included): no read was
    // denied. The commands the terminal refused on purpose (`deny` above) are counted.
    assert_eq!(stats["denied_reads"], 0, "{stats}");
    assert!(stats["denied_commands"].as_u64().unwrap() > 0, "{stats}");

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
    let slow = {
        let mut c = TrackerConfig::default();
        c.validity = 1_000_000;
        c.ack_timeout = 300;
        c.retry_base = 60;
        c.retry_max = 120;
        c.max_failures = 100;
        c.restore_within = 900;
        c
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
    o.tracker = Some({
        let mut c = TrackerConfig::default();
        c.validity = 100_000;
        c.ack_timeout = 300;
        c.retry_base = 1;
        c.retry_max = 2;
        c.max_failures = 3;
        c.restore_within = 900;
        c
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

    // A token for 20.00: a currency token of 2000 fen, whatever the price of the hour.
    let (status, t) = post(
        &m,
        "/api/tokens",
        json!({"customer": "Zhang Min", "amount": "20.00", "order_no": "TOK-1"}),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let digits = t["token"].as_str().unwrap().to_string();
    assert_eq!(digits.len(), 20);
    assert_eq!(t["credit"], "20.0000");
    assert_eq!(t["remainder"], "0.0000");
    // The meter with the site's keys accepts it: a currency credit of 2000 units.
    use amikit_sts::dkga::{Dkga, VendingKey};
    use amikit_sts::keys::*;
    use amikit_sts::meter::{Action, Meter, MeterConfig};
    use amikit_sts::tid::BaseDate;
    let params = KeyParameters {
        pan: "600727000000000009".parse().unwrap(),
        sgc: "123457".parse().unwrap(),
        ti: TariffIndex::try_from(1).unwrap(),
        krn: KeyRevision::try_from(1).unwrap(),
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
        Action::AddCurrency { amount, .. } if amount.value() == 2000
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
    assert_eq!(s, 422, "a negative amount is refused");
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
