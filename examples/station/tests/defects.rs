//! Regression tests for the master station's defects of issue 11: refused payments answered
//! `applied` (and blocking every later payment), acknowledgements of work a failed commit lost,
//! a refused reading becoming the billing baseline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

use amikit_tariff::{Energy, Money};

fn one_meter_site(a2: u32, address: &str, opening: &str, kwh: &str, extra: &str) -> Site {
    let s = format!(
        "region = \"4403\"\nmsa = 1\n[[tariffs]]\nname = \"residential\"\n\
         file = \"examples/tariffs/cn-residential-steps-tou.toml\"\n\
         [[terminals]]\na2 = {a2}\nkey = \"{key}\"\n\
         [[terminals.meters]]\npn = 1\naddress = \"{address}\"\ncustomer = \"Li Wei\"\n\
         phone = \"+86 138 0000 0001\"\ntariff = \"residential\"\nfee_control = \"remote\"\n\
         opening_balance = \"{opening}\"\nopening_kwh = \"{kwh}\"\nload_watts = 1000\n\
         alarm_threshold = \"8.00\"\ntrip_threshold = \"0.00\"\n{extra}",
        key = terminal_key(a2)
    );
    Site::parse(&s).unwrap()
}

fn money(v: &Value) -> Money {
    Money::parse(v.as_str().unwrap()).unwrap()
}

fn kwh(v: &Value) -> Energy {
    Energy::parse(v.as_str().unwrap()).unwrap()
}

async fn li(m: &MasterHandle) -> Value {
    get(m, "/api/customers").await[0].clone()
}

async fn pay(m: &MasterHandle, amount: &str, order: &str) -> (u16, Value) {
    post(
        m,
        "/api/payments",
        json!({"customer": "Li Wei", "amount": amount, "order_no": order}),
    )
    .await
}

// ---- payments -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_payment_is_answered_refused_and_never_blocks_later_ones() {
    let db = temp_db("refused-payment");
    // Hoarding limit 150.00 on an opening balance of 100.00: a payment of 80.00 is refused by
    // the engine (Rejection::Hoarding).
    let site = one_meter_site(
        21,
        "000000002101",
        "100.00",
        "1000",
        "hoarding_limit = \"150\"\n",
    );
    let m = start(options(site.clone(), db.clone())).await.unwrap();

    let (status, r) = pay(&m, "80.00", "H-1").await;
    assert_eq!(status, 409, "{r}");
    assert_eq!(r["status"], "refused", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("hoarding"), "{r}");
    assert_eq!(money(&r["balance"]), Money::parse("100").unwrap(), "{r}");

    // The next payment is not blocked (it takes purchase count 1, not 2).
    let (status, r) = pay(&m, "30.00", "H-2").await;
    assert_eq!(
        (status, r["status"].as_str()),
        (200, Some("applied")),
        "{r}"
    );
    assert_eq!(r["seq"], 1, "{r}");
    assert_eq!(money(&r["balance"]), Money::parse("130").unwrap(), "{r}");

    // The refused order number answers its first outcome again, and changes nothing.
    let (status, r) = pay(&m, "80.00", "H-1").await;
    assert_eq!(status, 409, "{r}");
    assert_eq!(
        (r["status"].as_str(), r["outcome"].as_str()),
        (Some("duplicate"), Some("refused")),
        "{r}"
    );
    assert_eq!(
        money(&li(&m).await["balance"]),
        Money::parse("130").unwrap()
    );

    // Amounts out of bounds are refused before the engine sees them (and not recorded).
    for bad in ["12.345", "5000.01", "0", "-5", "0.00"] {
        let (status, r) = pay(&m, bad, &format!("BAD-{bad}")).await;
        assert_eq!(status, 422, "{bad}: {r}");
        assert_eq!(r["status"], "refused", "{bad}: {r}");
    }
    let payments = get(&m, "/api/payments?customer=Li%20Wei").await;
    let statuses: Vec<&str> = payments
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["refused", "applied"], "{payments}");
    m.shutdown().await;

    // After a restart the refused payment still blocks nothing.
    let m = start(options(site, db)).await.unwrap();
    assert_eq!(
        money(&li(&m).await["balance"]),
        Money::parse("130").unwrap()
    );
    let (status, r) = pay(&m, "10.00", "H-3").await;
    assert_eq!(
        (status, r["status"].as_str()),
        (200, Some("applied")),
        "{r}"
    );
    assert_eq!(r["seq"], 2, "{r}");
    assert_eq!(money(&r["balance"]), Money::parse("140").unwrap(), "{r}");
    m.shutdown().await;
}

// ---- durability ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_disk_full_nothing_is_acknowledged_that_is_not_stored() {
    let db = temp_db("disk-full");
    let site = one_meter_site(22, "000000002201", "100.00", "1000", "");
    // Seed, then find the database's size.
    let m = start(options(site.clone(), db.clone())).await.unwrap();
    m.shutdown().await;
    let pages: u32 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();

    // Room for a few more pages only: commits start failing part-way through.
    let mut opts = options(site.clone(), db.clone());
    opts.db_max_pages = Some(pages);
    let m = start(opts).await.unwrap();
    let mut applied = Vec::new();
    let mut failed = 0;
    for i in 0..150 {
        let order = format!("FULL-{i}");
        let (status, r) = pay(&m, "1.00", &order).await;
        match status {
            200 => {
                assert_eq!(r["status"], "applied", "{r}");
                applied.push(order);
            }
            s if s >= 500 => failed += 1,
            s => panic!("{order}: {s} {r}"),
        }
    }
    m.shutdown().await;
    assert!(failed > 0, "the database never filled up");
    assert!(!applied.is_empty(), "no payment got through");

    // After a restart without the limit: every payment answered `applied` is there, and the
    // balance holds each exactly once.
    let m = start(options(site, db)).await.unwrap();
    let stored = get(&m, "/api/payments?customer=Li%20Wei").await;
    let stored: Vec<&str> = stored
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "applied")
        .map(|p| p["order_no"].as_str().unwrap())
        .collect();
    for order in &applied {
        assert!(
            stored.contains(&order.as_str()),
            "{order} answered applied, not stored"
        );
    }
    let expected = Money::parse("100").unwrap().raw() + 10_000 * stored.len() as i64;
    assert_eq!(money(&li(&m).await["balance"]).raw(), expected);
    assert_eq!(
        stored.len(),
        applied.len(),
        "stored {stored:?}, answered {applied:?}"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_master_on_the_same_database_is_refused() {
    let db = temp_db("lock");
    let site = one_meter_site(23, "000000002301", "100.00", "1000", "");
    let first = start(options(site.clone(), db.clone())).await.unwrap();
    let second = start(options(site.clone(), db.clone())).await;
    let err = second.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("another master station"), "{err}");
    first.shutdown().await;
    // Free again once the first has stopped.
    let again = start(options(site, db)).await.unwrap();
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_commit_with_synchronous_full() {
    let db = temp_db("sync-full");
    let site = one_meter_site(24, "000000002401", "100.00", "1000", "");
    let m = start(options(site, db)).await.unwrap();
    let before = get(&m, "/api/stats").await["db_full_sync_commits"]
        .as_u64()
        .unwrap();
    let (status, r) = pay(&m, "5.00", "SYNC-1").await;
    assert_eq!(status, 200, "{r}");
    let after = get(&m, "/api/stats").await["db_full_sync_commits"]
        .as_u64()
        .unwrap();
    assert!(after > before, "{before} → {after}");
    m.shutdown().await;
}

// ---- readings -----------------------------------------------------------------------------

/// Waits until the master has stored a reading of `wh` for the meter (or refused it).
async fn read_as(m: &MasterHandle, address: &str, wh: i64) {
    until("reading", 20, || async {
        let c = li(m).await;
        let e = c["meters"][0]["energy_kwh"]
            .as_str()
            .map(|s| Energy::parse(s).unwrap());
        (e == Some(Energy::from_wh(wh))).then_some(())
    })
    .await;
    let _ = address;
}

async fn exceptions(m: &MasterHandle, address: &str) -> Vec<Value> {
    get(m, &format!("/api/exceptions?meter={address}"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backwards_zero_read_is_an_exception_and_the_next_genuine_read_bills_only_its_consumption()
 {
    let db = temp_db("zero-read");
    let address = "000000002501";
    // 100 kW: the genuine 2 kWh read comes seconds after the last good one (fast clock).
    let site = one_meter_site(25, address, "100.00", "2210", "max_demand_kw = \"100\"\n");
    let m = start(options(site, db)).await.unwrap();
    let fake = Fake::start(m.terminal_addr(), 25, &[(1, address, 2_210_000)]);
    read_as(&m, address, 2_210_000).await;

    // The meter answers 0 kWh for a while (a reset register, a bad frame).
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 0);
    let reads = fake.with(|t| t.reads);
    until("a few reads of 0 kWh", 20, || async {
        (fake.with(|t| t.reads) >= reads + 3).then_some(())
    })
    .await;
    // The genuine read: 2 kWh since the last good one, billed as 2 kWh (not 2 212 kWh).
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 2_212_000);
    read_as(&m, address, 2_212_000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = li(&m).await;
    assert_eq!(kwh(&c["period_kwh"]), Energy::from_wh(2_000), "{c}");
    assert_eq!(c["credit"], "normal", "{c}");
    assert_eq!(c["relay"], "closed", "{c}");
    // The 0 kWh read is in the exceptions, never was the baseline.
    let ex = exceptions(&m, address).await;
    assert_eq!(ex.len(), 1, "{ex:?}");
    assert_eq!(ex[0]["reason"], "backwards", "{ex:?}");
    assert_eq!(ex[0]["status"], "open", "{ex:?}");
    assert_eq!(kwh(&ex[0]["previous_kwh"]), Energy::from_wh(2_210_000));
    assert_eq!(kwh(&ex[0]["current_kwh"]), Energy::ZERO);
    assert!(ex[0]["count"].as_i64().unwrap() >= 3, "{ex:?}");
    fake.stop().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jump_beyond_max_demand_is_an_exception() {
    let db = temp_db("jump");
    let address = "000000002601";
    let site = one_meter_site(26, address, "100.00", "1000", "max_demand_kw = \"10\"\n");
    let m = start(options(site, db)).await.unwrap();
    let fake = Fake::start(m.terminal_addr(), 26, &[(1, address, 1_000_000)]);
    read_as(&m, address, 1_000_000).await;
    // 500 kWh within seconds: far beyond 10 kW × the time since the last read.
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 1_500_000);
    let reads = fake.with(|t| t.reads);
    until("a few reads of the jump", 20, || async {
        (fake.with(|t| t.reads) >= reads + 3).then_some(())
    })
    .await;
    // A plausible read afterwards bills from the last good one.
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 1_000_500);
    read_as(&m, address, 1_000_500).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kwh(&li(&m).await["period_kwh"]), Energy::from_wh(500));
    let ex = exceptions(&m, address).await;
    assert!(
        ex.iter()
            .any(|e| e["reason"] == "jump" && e["current_kwh"] == "1500.000"),
        "{ex:?}"
    );
    fake.stop().await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meter_replacement_bills_exactly_once_across_the_swap() {
    let db = temp_db("replace");
    let address = "000000002701";
    let site = one_meter_site(27, address, "100.00", "1000", "max_demand_kw = \"1000\"\n");
    let m = start(options(site, db)).await.unwrap();
    let fake = Fake::start(m.terminal_addr(), 27, &[(1, address, 1_000_000)]);
    read_as(&m, address, 1_000_000).await;
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 1_003_000);
    read_as(&m, address, 1_003_000).await;

    // The swap: the old meter is removed at 1004 kWh, the new one installed at 5 kWh. The
    // master may read the new meter before the operator records the swap: an exception.
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 5_000);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (status, r) = post(
        &m,
        &format!("/api/meters/{address}/replace"),
        json!({"final_kwh": "1004", "initial_kwh": "5"}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(kwh(&r["billed_kwh"]), Energy::from_wh(1_000), "{r}");
    // Exceptions of the old meter are resolved by the replacement.
    assert!(
        exceptions(&m, address)
            .await
            .iter()
            .all(|e| e["status"] == "resolved")
    );
    fake.with(|t| *t.energy.get_mut(&1).unwrap() = 7_000);
    read_as(&m, address, 7_000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // 3 kWh before the swap, 1 kWh on the old meter's last day, 2 kWh on the new one.
    assert_eq!(kwh(&li(&m).await["period_kwh"]), Energy::from_wh(6_000));
    // A replacement with a final reading below the baseline is refused and changes nothing.
    let (status, r) = post(
        &m,
        &format!("/api/meters/{address}/replace"),
        json!({"final_kwh": "1", "initial_kwh": "0"}),
    )
    .await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(kwh(&li(&m).await["period_kwh"]), Energy::from_wh(6_000));
    fake.stop().await;
    m.shutdown().await;
}
