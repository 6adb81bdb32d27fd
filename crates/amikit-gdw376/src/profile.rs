//! Dialect profiles: what the standard leaves open, and every named leniency (each seen in captured traffic; the vectors are named where they are used).
//!
//! A [`Profile`] is strict by default ([`Profile::STRICT_2013`]). Each deviation seen in real
//! frames has a name (a [`Leniency`] flag, a PW length, an address width or a layout version);
//! nothing is tolerated silently.

use crate::address::AddressWidth;
use crate::afn::Afn;
use crate::control::Direction;

/// Which edition's data-unit layouts apply where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Version {
    /// Q/GDW 376.1-2009.
    V2009,
    /// Q/GDW 1376.1-2013 (e.g. AFN 0C F167 is 46 bytes instead of 41).
    #[default]
    V2013,
}

/// A set of named leniencies (bit flags). Every flag is documented and tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Leniency(pub u32);

impl Leniency {
    /// None: strict.
    pub const NONE: Leniency = Leniency(0);
    /// `fn-as-number`: in AFN 00 and 02 (where one frame names one Fn), a DT1 with more than one
    /// bit set is read as the Fn *number* (`03 00` → F3), as some devices write it (captured traffic,
    /// vector gdw376-019).
    pub const FN_AS_NUMBER: Leniency = Leniency(1 << 0);
    /// `trailing-fill`: zero bytes after the last data unit are reported as filler rather than
    /// as an opaque, unexplained remainder (captured traffic, vector gdw376-018).
    pub const TRAILING_FILL: Leniency = Leniency(1 << 1);
    /// `ef-absent`: `EF` filler bytes in a data format are read as absent, like `EE`
    /// (captured traffic, vector gdw376-052). Strict decoding reports them as non-BCD.
    pub const EF_ABSENT: Leniency = Leniency(1 << 2);
    /// `region-not-bcd`: accept a region code A1 that is not BCD.
    pub const REGION_NOT_BCD: Leniency = Leniency(1 << 3);
    /// `protocol-130`: accept the Q/GDW 130-2005 protocol id (`01`) in L as well as `10`.
    pub const PROTOCOL_130: Leniency = Leniency(1 << 4);
    /// `link-data`: login / logout / heartbeat (AFN 02) may carry a data unit (a version, a clock)
    /// after the DA/DT; it is kept as that unit's data (some terminals append data to the login / heartbeat, AFN 02H F1/F3).
    pub const LINK_DATA: Leniency = Leniency(1 << 5);

    /// Every flag.
    pub const ALL: Leniency = Leniency(0x3F);

    /// All flags of `other` are set.
    #[must_use]
    pub const fn contains(self, other: Leniency) -> bool {
        self.0 & other.0 == other.0
    }
    /// The flags' names, in bit order.
    pub const NAMES: [(&'static str, Leniency); 6] = [
        ("fn-as-number", Leniency::FN_AS_NUMBER),
        ("trailing-fill", Leniency::TRAILING_FILL),
        ("ef-absent", Leniency::EF_ABSENT),
        ("region-not-bcd", Leniency::REGION_NOT_BCD),
        ("protocol-130", Leniency::PROTOCOL_130),
        ("link-data", Leniency::LINK_DATA),
    ];
}

impl core::ops::BitOr for Leniency {
    type Output = Leniency;
    /// Union.
    fn bitor(self, other: Leniency) -> Leniency {
        Leniency(self.0 | other.0)
    }
}

/// PW length on downlink frames of AFN 01, 04, 05, 06, 0F, 10 and uplink AFN 06 (Q/GDW 1376.1-2013, auxiliary information AUX: PW).
const STD_PW_DOWN: [u8; 17] = [0, 16, 0, 0, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0, 16, 16];
const STD_PW_UP: [u8; 17] = [0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// What the decoder and encoder assume where the standard leaves room for dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Profile {
    /// Data-unit layout edition.
    pub version: Version,
    /// Width of the address field.
    pub address: AddressWidth,
    /// PW length per AFN (index = AFN 00–10) on downlink frames.
    pub pw_down: [u8; 17],
    /// PW length per AFN (index = AFN 00–10) on uplink frames.
    pub pw_up: [u8; 17],
    /// Named leniencies.
    pub leniency: Leniency,
}

impl Default for Profile {
    fn default() -> Self {
        Profile::STRICT_2013
    }
}

impl Profile {
    /// Strict Q/GDW 1376.1-2013: 16-byte PW on 01/04/05/06/0F/10 downlink (and 06 uplink),
    /// 5-byte address, no leniency. The default.
    pub const STRICT_2013: Profile = Profile {
        version: Version::V2013,
        address: AddressWidth::Five,
        pw_down: STD_PW_DOWN,
        pw_up: STD_PW_UP,
        leniency: Leniency::NONE,
    };
    /// Strict Q/GDW 376.1-2009 (2009 data-unit layouts).
    pub const STRICT_2009: Profile = Profile {
        version: Version::V2009,
        ..Profile::STRICT_2013
    };
    /// `pw2`: 2-byte PW wherever a PW is sent, as Q/GDW 130-2005-era and some provincial master
    /// stations do (captured traffic, vector gdw376-042). 2009 layouts.
    pub const PW2: Profile = Profile {
        pw_down: [0, 2, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2],
        pw_up: [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..Profile::STRICT_2009
    };
    /// `no-pw-0f-10`: no PW on AFN 0F (file transfer) and 10 (forwarding) downlink, as a Zhejiang
    /// firmware-upgrade tool sends them (captured traffic, vector gdw376-079). 2009 layouts.
    pub const NO_PW_FILE_FORWARD: Profile = Profile {
        pw_down: [0, 16, 0, 0, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..Profile::STRICT_2009
    };
    /// `lenient`: 2009 layouts with every [`Leniency`] on (standard PW lengths).
    pub const LENIENT: Profile = Profile {
        leniency: Leniency::ALL,
        ..Profile::STRICT_2009
    };

    /// Names accepted by [`Profile::by_name`].
    pub const NAMES: [&'static str; 7] = [
        "2013",
        "2009",
        "pw2",
        "no-pw-0f-10",
        "lenient",
        "addr7",
        "lenient-2013",
    ];

    /// A named profile: `2013`, `2009`, `pw2`, `no-pw-0f-10`, `lenient` (2009 + all leniencies),
    /// `lenient-2013`, `addr7` (2013 with the 7-byte address).
    #[must_use]
    pub fn by_name(name: &str) -> Option<Profile> {
        Some(match name {
            "2013" | "strict-2013" | "strict" => Profile::STRICT_2013,
            "2009" | "strict-2009" => Profile::STRICT_2009,
            "pw2" => Profile::PW2,
            "no-pw-0f-10" => Profile::NO_PW_FILE_FORWARD,
            "lenient" => Profile::LENIENT,
            "lenient-2013" => Profile {
                leniency: Leniency::ALL,
                ..Profile::STRICT_2013
            },
            "addr7" => Profile {
                address: AddressWidth::Seven,
                ..Profile::STRICT_2013
            },
            _ => return None,
        })
    }

    /// True when the leniency is on.
    #[must_use]
    pub const fn allows(&self, l: Leniency) -> bool {
        self.leniency.contains(l)
    }
    /// PW bytes expected in a frame of this AFN and direction.
    #[must_use]
    pub fn pw_len(&self, afn: Afn, dir: Direction) -> usize {
        let table = match dir {
            Direction::Down => &self.pw_down,
            Direction::Up => &self.pw_up,
        };
        table.get(usize::from(afn.0)).map_or(0, |&l| usize::from(l))
    }
    /// True when the L protocol id is accepted (2 always; 1 with [`Leniency::PROTOCOL_130`]).
    #[must_use]
    pub(crate) const fn accepts_protocol_id(&self, id: u8) -> bool {
        id == 2 || (id == 1 && self.allows(Leniency::PROTOCOL_130))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pw_rules() {
        let p = Profile::default();
        for afn in [1u8, 4, 5, 6, 0x0F, 0x10] {
            assert_eq!(p.pw_len(Afn(afn), Direction::Down), 16, "AFN {afn:02X}");
        }
        for afn in [0u8, 2, 3, 8, 9, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x11, 0xFF] {
            assert_eq!(p.pw_len(Afn(afn), Direction::Down), 0, "AFN {afn:02X}");
        }
        assert_eq!(p.pw_len(Afn(6), Direction::Up), 16);
        assert_eq!(p.pw_len(Afn(5), Direction::Up), 0);
        assert_eq!(Profile::PW2.pw_len(Afn(5), Direction::Down), 2);
        assert_eq!(
            Profile::NO_PW_FILE_FORWARD.pw_len(Afn(0x0F), Direction::Down),
            0
        );
        assert_eq!(
            Profile::NO_PW_FILE_FORWARD.pw_len(Afn(0x05), Direction::Down),
            16
        );
        let mut q = p;
        q.pw_down[4] = 0;
        assert_eq!(q.pw_len(Afn(4), Direction::Down), 0);
        for n in Profile::NAMES {
            assert!(Profile::by_name(n).is_some(), "{n}");
        }
        assert!(Profile::by_name("nope").is_none());
        let all = Leniency::NAMES
            .iter()
            .fold(Leniency::NONE, |a, (_, l)| a | *l);
        assert_eq!(all, Leniency::ALL);
        assert!(!p.accepts_protocol_id(1));
        assert!(Profile::LENIENT.accepts_protocol_id(1));
        assert!(!Profile::LENIENT.accepts_protocol_id(3));
    }
}
