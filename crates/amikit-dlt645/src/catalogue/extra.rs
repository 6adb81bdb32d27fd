//! Hand-written tables: prepayment identifiers and the freeze family (05).
//!
//! Prepayment rows: from the table "Prepayment identifiers the package lacks" in the shared data
//! README (`shared/data/README.md`), which lists for each DI the public code it was seen in (a
//! 645↔698 item table, terminal, gateway and firmware sources, a vendor command document). Not
//! confirmed against the amendment text. Where the README gives no format ("—"), the item is
//! kept raw with variable length rather than guessed.
//!
//! Freeze rows: DL/T 645-2007 appendix A (freeze data, DI3 = 05) as recalled by the amikit
//! developers: DI2 = freeze type (00 timed, 01 instantaneous, 02 time-zone-table switch,
//! 03 day-table switch, 04 hourly, 06 daily), DI1 = item (00 freeze time, 01..08 energy blocks,
//! 09/0A demand blocks, 10 variable block), DI0 = occurrence (上 N 次). Energy/demand blocks are
//! "total, then tariffs 1..k" and so of meter-dependent length: kept raw (variable length).
//! Not verified against the primary text.

use super::{Access, Rule, Unit};
use crate::value::{Format, Kind, TimeLayout};

const RAW: Format = Format {
    kind: Kind::Raw,
    len: 0,
};
const MONEY: Format = Format::number(4, 2); // XXXXXX.XX 元
const ENERGY: Format = Format::number(4, 2); // XXXXXX.XX kWh
const PRICE: Format = Format::number(4, 4); // NNNN.NNNN 元/kWh

macro_rules! rule {
    ($key:expr, $d1:expr, $d0:expr, $fmt:expr, $unit:ident, $acc:ident, $zh:expr, $en:expr) => {
        Rule {
            key: $key,
            di1: $d1,
            di0: $d0,
            format: $fmt,
            unit: Unit::$unit,
            access: Access::$acc,
            #[cfg(feature = "names")]
            zh: $zh,
            #[cfg(feature = "names")]
            en: $en,
        }
    };
}

/// Prepayment identifiers (sorted by key, DI1, DI0).
pub(super) static PREPAID: [Rule; 21] = [
    // 00900100 item table (4 B, 2 dp); terminal sources
    rule!(
        0x0090,
        (0x01, 0x01),
        (0x00, 0x00),
        ENERGY,
        KWh,
        Read,
        "（当前）剩余电量",
        Some("remaining energy")
    ),
    // 00900101 terminal sources (4 B; format as 00900100)
    rule!(
        0x0090,
        (0x01, 0x01),
        (0x01, 0x01),
        ENERGY,
        KWh,
        Read,
        "（当前）透支电量",
        Some("overdraft energy")
    ),
    // 00900200 item table (XXXXXX.XX 元, 4 B); gateway and terminal sources
    rule!(
        0x0090,
        (0x02, 0x02),
        (0x00, 0x00),
        MONEY,
        Yuan,
        Read,
        "（当前）剩余金额",
        Some("remaining money")
    ),
    // 00900201 gateway source (4 B, as 00900200)
    rule!(
        0x0090,
        (0x02, 0x02),
        (0x01, 0x01),
        MONEY,
        Yuan,
        Read,
        "（当前）透支金额",
        Some("overdraft money")
    ),
    // 03320201 / 03320601 terminal source (energy purchases; format not given)
    rule!(
        0x0332,
        (0x02, 0x02),
        (0x01, 0x01),
        RAW,
        None,
        Read,
        "上1次购电后总购电次数(电量)",
        Some("purchase count after last energy purchase")
    ),
    rule!(
        0x0332,
        (0x06, 0x06),
        (0x01, 0x01),
        RAW,
        None,
        Read,
        "上1次购电后累计购电量",
        Some("accumulated purchased energy after last purchase")
    ),
    // 03330201 / 03330601 terminal and gateway sources (money purchases; 2 B / 4 B)
    rule!(
        0x0333,
        (0x02, 0x02),
        (0x01, 0x01),
        Format::number(2, 0),
        None,
        Read,
        "上1次购电后总购电次数",
        Some("purchase count after last purchase")
    ),
    rule!(
        0x0333,
        (0x06, 0x06),
        (0x01, 0x01),
        MONEY,
        Yuan,
        Read,
        "上1次购电后累计购电金额",
        Some("accumulated purchased money after last purchase")
    ),
    // 04000108 / 04000109 gateway source; item table (YYMMDDhhmm, 5 B; 04000108 by analogy)
    rule!(
        0x0400,
        (0x01, 0x01),
        (0x08, 0x09),
        Format::time(TimeLayout::YyMmDdHhMm),
        None,
        ReadWrite,
        "两套费率电价/阶梯切换时间",
        Some("tariff price / step table switch time")
    ),
    // 04000207 vendor command doc (NN, 1 B)
    rule!(
        0x0400,
        (0x02, 0x02),
        (0x07, 0x07),
        Format::number(1, 0),
        None,
        ReadWrite,
        "阶梯数",
        Some("number of steps")
    ),
    // 04000306 / 04000307 item table (NNNNNN, 3 B)
    rule!(
        0x0400,
        (0x03, 0x03),
        (0x06, 0x07),
        Format::number(3, 0),
        None,
        ReadWrite,
        "电流/电压互感器变比",
        Some("CT / VT ratio")
    ),
    // 0400040E item table; gateway source (NNNNNNNNNNNN, 6 B)
    rule!(
        0x0400,
        (0x04, 0x04),
        (0x0E, 0x0E),
        Format {
            kind: Kind::Digits,
            len: 6
        },
        None,
        ReadWrite,
        "客户编号",
        Some("customer number")
    ),
    // 04000F01 / 04000F02 / 04000F04 terminal source (format not given)
    rule!(
        0x0400,
        (0x0F, 0x0F),
        (0x01, 0x02),
        RAW,
        None,
        ReadWrite,
        "报警电量{0}限值",
        Some("alarm energy {0} limit")
    ),
    rule!(
        0x0400,
        (0x0F, 0x0F),
        (0x04, 0x04),
        RAW,
        None,
        ReadWrite,
        "透支电量限值",
        Some("overdraft energy limit")
    ),
    // 04001001..04001005 item table; vendor command doc; gateway; firmware (XXXXXX.XX 元, 4 B)
    rule!(
        0x0400,
        (0x10, 0x10),
        (0x01, 0x02),
        MONEY,
        Yuan,
        ReadWrite,
        "报警金额{0}限值",
        Some("alarm amount {0}")
    ),
    rule!(
        0x0400,
        (0x10, 0x10),
        (0x03, 0x03),
        MONEY,
        Yuan,
        ReadWrite,
        "透支金额限值",
        Some("overdraft limit")
    ),
    rule!(
        0x0400,
        (0x10, 0x10),
        (0x04, 0x04),
        MONEY,
        Yuan,
        ReadWrite,
        "囤积金额限值",
        Some("hoarding limit")
    ),
    rule!(
        0x0400,
        (0x10, 0x10),
        (0x05, 0x05),
        MONEY,
        Yuan,
        ReadWrite,
        "合闸允许金额限值",
        Some("reconnect amount threshold")
    ),
    // 0405 01 nn / 0405 02 nn item table; vendor command doc (NNNN.NNNN 元/kWh, 4 B);
    // n up to 63 tariffs (04000204 k <= 63)
    rule!(
        0x0405,
        (0x01, 0x02),
        (0x01, 0x3F),
        PRICE,
        YuanPerKWh,
        ReadWrite,
        "第{1}套费率电价{0}",
        Some("tariff set {1} price {0}")
    ),
    // 0406 00 nn step values (NNNNNN.NN kWh), 0406 01 nn step prices (NNNN.NNNN 元) vendor command
    // doc; the range of n is not given there: 1..14 assumed
    rule!(
        0x0406,
        (0x00, 0x00),
        (0x01, 0x0E),
        ENERGY,
        KWh,
        ReadWrite,
        "第一套第{0}阶梯值",
        Some("step {0} value")
    ),
    rule!(
        0x0406,
        (0x01, 0x01),
        (0x01, 0x0E),
        PRICE,
        YuanPerKWh,
        ReadWrite,
        "第一套阶梯电价{0}",
        Some("step {0} price")
    ),
];

const FREEZE_TIME: Format = Format::time(TimeLayout::YyMmDdHhMm);

macro_rules! freeze {
    ($name:ident, $t:expr, $n:expr, $zh:expr, $en:expr) => {
        static $name: [Rule; 4] = [
            rule!(
                0x0500 | $t,
                (0x00, 0x00),
                (0x01, $n),
                FREEZE_TIME,
                None,
                Read,
                concat!("(上{0}次)", $zh, "时间"),
                Some(concat!($en, " time (last {0})"))
            ),
            rule!(
                0x0500 | $t,
                (0x01, 0x08),
                (0x01, $n),
                RAW,
                None,
                Read,
                concat!("(上{0}次)", $zh, "电能数据"),
                Some(concat!($en, " energy data (last {0})"))
            ),
            rule!(
                0x0500 | $t,
                (0x09, 0x0A),
                (0x01, $n),
                RAW,
                None,
                Read,
                concat!("(上{0}次)", $zh, "最大需量及发生时间数据"),
                Some(concat!($en, " maximum demand data (last {0})"))
            ),
            rule!(
                0x0500 | $t,
                (0x10, 0x10),
                (0x01, $n),
                RAW,
                None,
                Read,
                concat!("(上{0}次)", $zh, "变量数据"),
                Some(concat!($en, " variable data (last {0})"))
            ),
        ];
    };
}

freeze!(TIMED, 0x00, 0x0C, "定时冻结", "timed freeze");
freeze!(INSTANT, 0x01, 0x03, "瞬时冻结", "instantaneous freeze");
freeze!(
    ZONE_SWITCH,
    0x02,
    0x02,
    "两套时区表切换冻结",
    "time-zone table switch freeze"
);
freeze!(
    DAY_SWITCH,
    0x03,
    0x02,
    "两套日时段表切换冻结",
    "day table switch freeze"
);
freeze!(DAILY, 0x06, 0x3E, "日冻结", "daily freeze");

/// Hourly freeze: time and forward/reverse active total energy only.
static HOURLY: [Rule; 2] = [
    rule!(
        0x0504,
        (0x00, 0x00),
        (0x01, 0xFE),
        FREEZE_TIME,
        None,
        Read,
        "(上{0}次)整点冻结时间",
        Some("hourly freeze time (last {0})")
    ),
    rule!(
        0x0504,
        (0x01, 0x02),
        (0x01, 0xFE),
        ENERGY,
        KWh,
        Read,
        "(上{0}次)整点冻结有功总电能",
        Some("hourly freeze active total energy (last {0})")
    ),
];

/// The freeze tables, in key order.
pub(super) static FREEZE: [&[Rule]; 6] =
    [&TIMED, &INSTANT, &ZONE_SWITCH, &DAY_SWITCH, &HOURLY, &DAILY];
