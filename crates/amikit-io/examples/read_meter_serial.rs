//! Reads forward active energy from a DL/T 645 meter on an RS-485 adapter.
//!
//! `cargo run -p amikit-io --example read_meter_serial -- /dev/ttyUSB0 000012345678`
use amikit_dlt645::{Address, Di};
use amikit_io::dlt645::{Client, ClientConfig, SerialSettings, open_serial};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port = args.next().unwrap_or_else(|| "/dev/ttyUSB0".into());
    let meter: Address = args
        .next()
        .unwrap_or_else(|| "AAAAAAAAAAAA".into())
        .parse()?;

    // 2400 bd 8E1, FE wake-up preamble, one request at a time on the bus.
    let serial = open_serial(&port, SerialSettings::dlt645())?;
    let client = Client::new(serial, ClientConfig::serial());

    // 00010000: forward active energy, total (kWh).
    let reading = client.read(meter, Di(0x0001_0000)).await?;
    println!("{}: {} kWh", reading.address, reading.number()?);
    Ok(())
}
