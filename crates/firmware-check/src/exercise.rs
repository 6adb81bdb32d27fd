//! One function per library crate, each calling real entry points of that crate on inputs the
//! optimiser cannot see (`seed`), folded into a digest so that nothing is removed as dead code.

/// Runs the exercise of every linked crate and folds the results into one number.
#[allow(unused_mut)] // with no crate feature enabled the digest is never updated
pub(crate) fn run(seed: u32) -> u32 {
    let mut digest = seed;
    #[cfg(feature = "core")]
    {
        digest = digest.rotate_left(5) ^ foundation(seed);
    }
    #[cfg(feature = "dlt645")]
    {
        digest = digest.rotate_left(5) ^ dlt645(seed);
    }
    #[cfg(feature = "gdw376")]
    {
        digest = digest.rotate_left(5) ^ gdw376(seed);
    }
    #[cfg(feature = "sts")]
    {
        digest = digest.rotate_left(5) ^ sts(seed);
    }
    #[cfg(feature = "tariff")]
    {
        digest = digest.rotate_left(5) ^ tariff(seed);
    }
    #[cfg(feature = "prepay")]
    {
        digest = digest.rotate_left(5) ^ prepay(seed);
    }
    digest
}

#[cfg(feature = "core")]
fn foundation(seed: u32) -> u32 {
    use amikit_core::{Date, DateTime, Decimal, Instant, Rounding, bcd};
    use core::time::Duration;

    let mut digest = 0u32;
    // calendar: seconds → civil time → seconds, weekday, day arithmetic
    let t = DateTime::from_seconds_since_epoch(i64::from(seed) * 86_413)
        .unwrap_or(Date::EPOCH.midnight());
    let later = t.add_seconds(i64::from(seed % 100_000)).unwrap_or(t);
    digest ^= later.seconds_since_epoch() as u32 ^ later.weekday().index() as u32;
    digest ^= u32::from(
        t.date()
            .add_days(-(seed as i32 % 1000))
            .map_or(0, |d| d.day()),
    );
    // decimal: rescale with a named rounding
    let d = Decimal::new(i64::from(seed) * 12_345, 5);
    digest ^= d
        .rescale(2, Rounding::HalfEven)
        .map_or(0, |r| r.mantissa as u32);
    // BCD and the monotonic instant
    let bytes = (seed.wrapping_mul(0x0101_0101) & 0x0909_0909).to_le_bytes();
    digest ^= bcd::decode_le(&bytes).map_or(0, |v| v as u32);
    let deadline = Instant(u64::from(seed)).saturating_add(Duration::from_secs(30));
    digest ^ deadline.as_millis() as u32
}

#[cfg(feature = "dlt645")]
fn dlt645(seed: u32) -> u32 {
    use amikit_dlt645::deframer::{Deframer, Event};
    use amikit_dlt645::{Address, Body, Data, DataId, Di, Edition, Frame, Repr, catalogue};

    let mut digest = 0u32;
    let address =
        Address::from_number(u64::from(seed) % 1_000_000_000_000).unwrap_or(Address::WILDCARD);
    // master side: a read request of forward active energy
    let mut buf = [0u8; 64];
    let n = Repr::read(address, Di(0x0001_0000 | (seed & 0x0F)))
        .emit(&mut buf)
        .unwrap_or(0);
    // meter side: a read reply carrying a seed-derived BCD value
    let v = seed % 100;
    let value = [((v / 10) << 4 | (v % 10)) as u8, 0x00, 0x00, 0x00];
    let reply = Repr::new(
        Edition::V2007,
        address,
        Body::Reply(amikit_dlt645::Reply::Read {
            di: DataId::V2007(Di::FORWARD_ACTIVE_ENERGY),
            data: Data::plain(&value),
            more: false,
        }),
    )
    .with_preamble((seed % 4) as u8);
    let mut stream = [0u8; 128];
    let n = n.min(64);
    let (head, tail) = stream.split_at_mut(n);
    head.copy_from_slice(buf.get(..n).unwrap_or(&[]));
    let m = reply.emit(tail).unwrap_or(0);
    // streaming: find both frames in the byte stream
    let mut deframer = Deframer::<256>::new();
    let _ = deframer.push(stream.get(..n + m).unwrap_or(&[]));
    while let Some(event) = deframer.next() {
        if let Event::Frame(frame) = event {
            digest = digest.rotate_left(3) ^ u32::from(frame.checksum());
            if let Ok(Repr {
                body:
                    Body::Reply(amikit_dlt645::Reply::Read {
                        di: DataId::V2007(di),
                        data,
                        ..
                    }),
                ..
            }) = Repr::parse(&frame, Edition::V2007)
                && let Some(entry) = catalogue::lookup(di)
                && let Ok(Some(value)) = entry.decode(data)
                && let Some(number) = value.number()
            {
                digest ^= number.mantissa as u32;
            }
        }
    }
    if let Ok(frame) = Frame::new_checked(buf.get(..n).unwrap_or(&[])) {
        digest ^= u32::from(frame.control().0);
    }
    digest
}

#[cfg(feature = "gdw376")]
fn gdw376(seed: u32) -> u32 {
    use amikit_gdw376::deframer::Deframer;
    use amikit_gdw376::format::Format09;
    use amikit_gdw376::security::ZeroPw;
    use amikit_gdw376::session::terminal::{
        ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
    };
    use amikit_gdw376::units::{Realtime, UnitLayout as _, Value, Writer};
    use amikit_gdw376::walker::Item;
    use amikit_gdw376::{
        Address, Afn, Control, FrameBuilder, InfoClass, Instant, Pn, Profile, Repr, Seq,
    };

    struct Meter(u32);
    impl RequestHandler for Meter {
        fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
            let mut rt = Realtime::default();
            rt.active_power[0] = Format09::from_mantissa(i64::from(self.0 % 800_000)).ok();
            let mut w = Writer::new(out);
            match req.fn_.0 {
                25 => rt.emit(&mut w).map_err(|_| Refusal::NoData)?,
                _ => return Err(Refusal::NoData),
            }
            Ok(w.pos())
        }
    }

    let p = Profile::default();
    let mut digest = 0u32;
    let terminal = Address::new(0x0171, seed & 0xFFFF | 1);
    // master side: a realtime read (AFN 0C F25) of a seed-derived point
    let mut req = [0u8; 64];
    let b = FrameBuilder::new(
        &p,
        Control::MASTER_READ,
        terminal.with_msa(1),
        Afn::CLASS1,
        Seq::single(false, false, (seed & 0x0F) as u8),
    );
    let n = b
        .begin(&mut req)
        .and_then(|mut w| {
            w.unit(Pn((seed % 2040) as u16 + 1), InfoClass(25), &[])?;
            w.finish(&mut ZeroPw)
        })
        .unwrap_or(0);
    // terminal side: the session answers through the handler
    let mut t: Terminal<ZeroPw, 256, 512> = Terminal::new(TerminalConfig::new(terminal));
    t.connected(Instant(u64::from(seed)));
    let mut out = [0u8; 512];
    let mut events = 0u32;
    let _ = t.poll(Instant(u64::from(seed)), &mut out, &mut |_| events += 1);
    t.on_bytes(
        Instant(u64::from(seed)),
        req.get(..n).unwrap_or(&[]),
        &mut Meter(seed),
        &mut |_| events += 1,
    );
    let m = t.poll(Instant(u64::from(seed) + 1), &mut out, &mut |_| events += 1);
    // master side again: deframe and decode the reply with its typed values
    let mut d = Deframer::<512>::default();
    let mut rest = out.get(..m).unwrap_or(&[]);
    loop {
        let o = d.push(rest);
        let Some(frame) = o.frame else { break };
        if let Ok(r) = Repr::parse_bytes(frame, &p) {
            digest = digest.rotate_left(3) ^ u32::from(r.seq.0);
            for item in r.units(&p) {
                if let Item::Unit(u) = item
                    && let Ok(Some(Value::Realtime(rt))) = u.value(&p, r.afn, r.dir())
                    && let Some(pw) = rt.get().active_power[0]
                {
                    digest ^= pw.magnitude;
                }
            }
        }
        rest = rest.get(o.consumed..).unwrap_or(&[]);
    }
    digest ^ events
}

/// STS: derive decoder keys (DKGA02, DKGA04) from seed-derived vending keys, vend a credit and a
/// management token (EA07 with the sample tables, EA11), type the 20 digits into a meter-side
/// decoder with a TID memory, and replay one (rejected as USED).
#[cfg(feature = "sts")]
fn sts(seed: u32) -> u32 {
    use amikit_sts::block::{CreditKind, Rnd};
    use amikit_sts::cipher::{SAMPLE_TABLES, TokenCipher};
    use amikit_sts::dkga::{Dkga02, Dkga04};
    use amikit_sts::keys::{
        DecoderKey, EncryptionAlgorithm, KeyParameters, KeyRevision, KeyType, SupplyGroupCode,
        TariffIndex,
    };
    use amikit_sts::meter::{Meter, MeterConfig};
    use amikit_sts::pan::MeterPan;
    use amikit_sts::tid::{BaseDate, Tid};
    use amikit_sts::token::Token;
    use amikit_sts::vend::{Issue, Management, Vendor};

    let wide = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let Ok(pan) = MeterPan::from_parts("600727", "00000000000") else {
        return seed;
    };
    let (Ok(sgc), Ok(ti), Ok(krn)) = (
        SupplyGroupCode::try_from(seed % 1_000_000),
        TariffIndex::try_from((seed % 100) as u8),
        KeyRevision::try_from((seed % 9 + 1) as u8),
    ) else {
        return seed;
    };
    let mut params = KeyParameters {
        pan,
        sgc,
        ti,
        krn,
        kt: KeyType::Unique,
        base_date: BaseDate::Y1993,
        ea: EncryptionAlgorithm::Sta,
    };
    let mut digest = seed;
    let mut fold = |v: u64| digest = digest.rotate_left(7) ^ (v as u32) ^ ((v >> 32) as u32);

    // EA07 with a DKGA02 key: vend, type the digits, replay.
    let key = Dkga02::new(wide.to_be_bytes()).derive64(&params);
    let config = MeterConfig::from_parameters(DecoderKey::Bits64(key), &params);
    let Ok(mut meter) = Meter::<'static, 16>::new(config, Some(&SAMPLE_TABLES)) else {
        return digest;
    };
    let vendor = Vendor::new(
        TokenCipher::Sta(amikit_sts::cipher::Sta::new(key, &SAMPLE_TABLES)),
        KeyType::Unique,
        BaseDate::Y1993,
    );
    let tid = Tid::from_bits(seed.wrapping_mul(2_654_435_761) & !1);
    let credit = vendor.credit(
        CreditKind::Electricity,
        u64::from(seed % 100_000),
        Issue::Tid(tid),
        Rnd::from_bits(seed as u8),
    );
    let limit = vendor.management(
        Management::MaxPowerLimit {
            watts: u64::from(seed % 20_000),
        },
        Issue::Tid(Tid::from_bits(u32::from(tid).wrapping_add(2))),
        Rnd::from_bits((seed >> 4) as u8),
    );
    for token in [credit, limit].into_iter().flatten() {
        let digits = token.to_digits();
        match Token::parse_bytes(&digits) {
            Ok(typed) => {
                fold(u64::from(meter.enter(typed, u64::from(seed)).is_ok()));
                fold(u64::from(meter.enter(typed, u64::from(seed)).is_err()));
            }
            Err(_) => fold(0xBAD),
        }
        fold(u128::from(token) as u64);
    }
    fold(meter.credit());

    // EA11 with a DKGA04 key: encode and decode one credit token.
    params.ea = EncryptionAlgorithm::Misty1;
    let mut vk = [0u8; 20];
    for (i, b) in vk.iter_mut().enumerate() {
        *b = (wide >> ((i % 8) * 8)) as u8 ^ i as u8;
    }
    if let Ok(Ok(DecoderKey::Bits128(k))) = Dkga04::new(&vk).map(|d| d.derive(&params)) {
        let misty = Vendor::new(
            TokenCipher::Misty1(amikit_sts::cipher::Misty1::from_u128(k)),
            KeyType::Unique,
            BaseDate::Y1993,
        );
        if let Ok(token) = misty.credit(
            CreditKind::Water,
            u64::from(seed % 1000),
            Issue::Tid(tid),
            Rnd::default(),
        ) {
            fold(u128::from(token) as u64);
            fold(u64::from(misty.cipher().decode(token).is_ok()));
        }
        fold(k as u64);
    }
    digest
}

/// A stepped time-of-use tariff with seed-derived prices and consumption: meter-side
/// charging across a step boundary, a vending quote and a top-up.
#[cfg(feature = "tariff")]
fn tariff(seed: u32) -> u32 {
    use amikit_tariff::{
        Balance, ChargeState, DateTime, DayTable, DayTableId, DebtRecovery, Energy, Levy, Money,
        MonthDay, OrderNo, Period, Price, Rate, Rounding, Season, Settlement, SettlementDate,
        StepTable, Tariff, TimeOfDay, TouTable,
    };
    let run = || -> Option<u32> {
        let s = i64::from(seed);
        let (peak, valley) = (Rate::try_from(1).ok()?, Rate::try_from(2).ok()?);
        let day = DayTable::new(&[
            Period {
                start: TimeOfDay::new(8, 0).ok()?,
                rate: peak,
            },
            Period {
                start: TimeOfDay::new(22, 0).ok()?,
                rate: valley,
            },
        ])
        .ok()?;
        let tou = TouTable::new(
            &[
                Some(Price::from_raw(5_000 + s % 1_000)),
                Some(Price::from_raw(2_500 + s % 700)),
            ],
            &[day],
            &[Season::every_day(
                MonthDay::new(1, 1).ok()?,
                DayTableId::try_from(1).ok()?,
            )],
            &[],
        )
        .ok()?;
        let steps = StepTable::new(
            &[Energy::from_wh(2_760_000), Energy::from_wh(4_800_000)],
            &[Price::ZERO, Price::from_raw(500), Price::from_raw(3_000)],
            Settlement::yearly(&[SettlementDate::new(1, 1, 0).ok()?]).ok()?,
        )
        .ok()?;
        let tariff = Tariff::tou(tou)
            .with_steps(steps)
            .with_levy(Levy::new(130_000, false).ok()?)
            .ok()?;
        let start = DateTime::new(2024, 12, 31, 20, 0, 0).ok()?;
        let mut state = ChargeState::with_period_energy(Energy::from_wh(2_700_000 + s), start);
        let mut digest = 0u32;
        for i in 0..8u8 {
            let at = DateTime::new(2024, 12, 31, 20 + i / 2, (i % 2) * 30, 0).ok()?;
            let c = tariff
                .charge(&mut state, at, Energy::from_wh(10_000 + s * i64::from(i)))
                .ok()?;
            digest = digest.rotate_left(3) ^ (c.total.raw() as u32);
        }
        let q = tariff
            .quote_money(
                Some(start),
                state.period_energy(),
                Money::from_raw(s * 1_000),
                Rounding::Down,
            )
            .ok()?;
        let mut balance: Balance<4> = Balance::new(DebtRecovery::Full);
        balance
            .top_up(OrderNo(u64::from(seed)), Money::from_raw(s + 1))
            .ok()?;
        balance.charge(q.total).ok()?;
        Some(digest ^ (q.energy.wh() as u32) ^ (balance.credit().raw() as u32))
    };
    run().unwrap_or(seed)
}

#[cfg(feature = "prepay")]
fn prepay(seed: u32) -> u32 {
    use amikit_prepay::tariff::{ChargeState, Tariff};
    use amikit_prepay::{
        Command, CommandKind, CommandReason, CountSink, Energy, Engine, Input, Money, Output,
        Outputs, Price, Profile, PurchaseId, Remote, Snapshot, TariffPricer, Timestamp,
        TopUpSource, Tracker, TrackerConfig, UserAction, recover,
    };
    let run = || -> Option<u32> {
        let s = i64::from(seed);
        let tariff = Tariff::flat(Price::from_raw(5_000 + s % 1_000)).ok()?;
        let mut state = ChargeState::new();
        let profile = *Profile::ALL.get(seed as usize % 3)?;
        let mut engine = Engine::new(profile.config(), Money::from_raw(150_000 + s)).ok()?;
        let t0 = Timestamp(1_767_571_200 + s);
        let mut out = Outputs::new();
        let mut digest = 0u32;
        let mut saved: Option<Snapshot> = None;
        let mut purchases = 0u32;
        for i in 0..32u32 {
            let now = t0.plus(i * 600);
            let input = match seed.wrapping_add(i) % 8 {
                0 => {
                    purchases += 1;
                    Input::TopUp {
                        amount: Money::from_raw(s * 10 + 1),
                        id: PurchaseId::Sequence(purchases),
                        source: TopUpSource::Card,
                    }
                }
                1 => Input::User(UserAction::Button),
                2 => Input::Remote(Remote {
                    kind: if i % 3 == 0 {
                        CommandKind::Trip
                    } else {
                        CommandKind::DirectClose
                    },
                    expires: now.plus(60),
                    operator: seed,
                }),
                3 => Input::Load { watts: seed % 9000 },
                4 => Input::Tick,
                5 if i % 2 == 0 => Input::RelayPosition {
                    closed: seed & 1 == 0,
                },
                _ => Input::Consume {
                    energy: Energy::from_wh(s % 5_000 + 1_000 * i64::from(i)),
                },
            };
            out.clear();
            engine.handle(
                now,
                input,
                &mut TariffPricer::new(&tariff, &mut state),
                &mut out,
            );
            for o in &out {
                if let Output::Persist(snap) = o {
                    saved = Some(*snap);
                }
            }
            digest = digest.rotate_left(3) ^ (engine.status().net.raw() as u32) ^ out.len() as u32;
        }
        // Power failure: a final snapshot with the charging state, bytes round trip, recovery
        // from two copies, power-up with the charging state lost from RAM.
        out.clear();
        engine.handle(
            t0,
            Input::PowerDown,
            &mut TariffPricer::new(&tariff, &mut state),
            &mut out,
        );
        for o in &out {
            if let Output::Persist(snap) = o {
                saved = Some(*snap);
            }
        }
        state = ChargeState::new();
        let snap = saved?;
        let back = Snapshot::parse(&snap.emit()).ok()?;
        let r = recover([&back, &snap]).ok()?;
        out.clear();
        engine.handle(
            t0,
            Input::PowerUp(r),
            &mut TariffPricer::new(&tariff, &mut state),
            &mut out,
        );
        // Master-station command tracking.
        let mut tracker: Tracker<u32, 4> = Tracker::new(TrackerConfig::default());
        let mut events = CountSink(0);
        let command = Command {
            kind: CommandKind::Trip,
            reason: CommandReason::Operator,
        };
        tracker.link_down(seed).ok()?;
        let id = tracker.submit(t0, seed, command, &mut events).ok()?;
        tracker.link_up(t0.plus(seed % 50), seed, &mut events);
        let _ = tracker.check_send(t0.plus(seed % 60), id, 1);
        tracker.poll(t0.plus(seed % 100), &mut events);
        let _ = tracker.fail(t0.plus(seed % 100 + 1), id, &mut events);
        tracker.poll(t0.plus(seed % 7_000), &mut events);
        Some(digest ^ (engine.status().balance.raw() as u32) ^ events.0 as u32 ^ r.checksum)
    };
    run().unwrap_or(seed)
}
