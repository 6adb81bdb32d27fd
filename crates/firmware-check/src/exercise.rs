//! One function per library crate, each calling real entry points of that crate on inputs the
//! optimiser cannot see (`seed`), folded into a digest so that nothing is removed as dead code.

/// Runs the exercise of every linked crate and folds the results into one number.
#[allow(unused_mut)] // with no crate feature enabled the digest is never updated
pub fn run(seed: u32) -> u32 {
    let mut digest = seed;
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
    seed ^ amikit_gdw376::VERSION.len() as u32
}

#[cfg(feature = "sts")]
fn sts(seed: u32) -> u32 {
    seed ^ amikit_sts::VERSION.len() as u32
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
        let (peak, valley) = (Rate::new(1)?, Rate::new(2)?);
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
                DayTableId::new(1)?,
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
    seed ^ amikit_prepay::VERSION.len() as u32
}
