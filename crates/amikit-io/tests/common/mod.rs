//! A simulated meter for the tests: an energy register, a long value (follow-up frames),
//! password-checked writes and remote control.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use amikit_dlt645::meter::{Credential, Handler, Meter, ReadRequest};
use amikit_dlt645::value::DateTime;
use amikit_dlt645::{
    Address, Data, DataId, Di, ErrorWord, Function, OperatorCode, Password, RemoteCommand,
    RemoteControl,
};

/// Forward active energy, total (DL/T 645-2007 Appendix A, 00010000): XXXXXX.XX kWh.
pub const ENERGY: Di = Di(0x0001_0000);
/// A 500-byte value (an identifier the catalogue does not know), three frames long.
pub const LONG: Di = Di(0x04A0_0001);
pub const LONG_LEN: usize = 500;
pub const PASSWORD: Password = Password::new(2, 123456);
pub const CREDENTIALS: &[Credential] = &[Credential::Password(PASSWORD)];

pub fn meter_address(n: u64) -> Address {
    Address::try_from(n).unwrap()
}

pub fn now() -> DateTime {
    DateTime::ymd_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

pub fn later() -> DateTime {
    DateTime::ymd_hms(2026, 3, 2, 13, 0, 0).unwrap()
}

pub fn long_value() -> Vec<u8> {
    (0..LONG_LEN).map(|i| (i % 251) as u8).collect()
}

/// What the meter saw.
#[derive(Debug, Default)]
pub struct Log {
    pub writes: Vec<(Di, Vec<u8>)>,
    pub controls: Vec<RemoteCommand>,
    pub times: Vec<DateTime>,
    pub reads: usize,
}

pub struct SimMeter {
    /// Energy in 0.01 kWh.
    pub energy: u32,
    pub log: Arc<Mutex<Log>>,
}

fn bcd(n: u32) -> [u8; 4] {
    let mut out = [0u8; 4];
    let mut n = n;
    for b in &mut out {
        *b = (((n / 10) % 10) << 4 | (n % 10)) as u8;
        n /= 100;
    }
    out
}

impl Handler for SimMeter {
    fn credentials(&self, function: Function, _: Option<DataId>) -> &[Credential] {
        match function {
            Function::Write | Function::RemoteControl => CREDENTIALS,
            _ => &[],
        }
    }
    fn read(&mut self, request: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
        self.log.lock().unwrap().reads += 1;
        let value = match request.di {
            DataId::V2007(ENERGY) => bcd(self.energy).to_vec(),
            DataId::V2007(LONG) => long_value(),
            _ => return Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA)),
        };
        let dst = out
            .get_mut(..value.len())
            .ok_or(ErrorWord(ErrorWord::OTHER))?;
        dst.copy_from_slice(&value);
        Ok(value.len())
    }
    fn write(
        &mut self,
        di: DataId,
        _: Password,
        _: Option<OperatorCode>,
        data: Data<'_>,
    ) -> Result<(), ErrorWord> {
        let DataId::V2007(di) = di else {
            return Err(ErrorWord(ErrorWord::OTHER));
        };
        let mut bytes = vec![0; data.len()];
        data.copy_to(&mut bytes);
        self.log.lock().unwrap().writes.push((di, bytes));
        Ok(())
    }
    fn broadcast_time(&mut self, time: DateTime) {
        self.log.lock().unwrap().times.push(time);
    }
    fn remote_control(&mut self, command: &RemoteControl<'_>) -> Result<(), ErrorWord> {
        let command = command.command().ok_or(ErrorWord(ErrorWord::OTHER))?;
        self.log.lock().unwrap().controls.push(command);
        Ok(())
    }
}

/// `count` meters at addresses 1..=count with 1234.56 kWh + n, and their shared log.
pub fn meters(count: u64) -> (Vec<(Meter<1024>, SimMeter)>, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let meters = (1..=count)
        .map(|n| {
            (
                Meter::<1024>::with_buffer(meter_address(n)),
                SimMeter {
                    energy: 123_456 + n as u32,
                    log: Arc::clone(&log),
                },
            )
        })
        .collect();
    (meters, log)
}
