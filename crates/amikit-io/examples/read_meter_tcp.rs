//! Reads forward active energy through a transparent serial server or DTU (TCP), or from the
//! in-process simulator when no address is given.
//!
//! `cargo run -p amikit-io --example read_meter_tcp -- 192.168.1.20:4001 000012345678`
use amikit_dlt645::meter::{Handler, Meter, ReadRequest};
use amikit_dlt645::{Address, Di, ErrorWord};
use amikit_io::dlt645::{Client, ClientConfig, MeterServer};

/// A simulated meter: 1234.56 kWh forward active energy.
struct Sim;

impl Handler for Sim {
    fn read(&mut self, req: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
        let value = [0x56, 0x34, 0x12, 0x00]; // BCD, low byte first, 2 decimals
        match (req.di, out.get_mut(..4)) {
            (di, Some(dst)) if di == Di(0x0001_0000).into() => {
                dst.copy_from_slice(&value);
                Ok(4)
            }
            _ => Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA)),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let meter: Address = args.get(1).map_or("000012345678", String::as_str).parse()?;
    let target = match args.first().cloned() {
        Some(target) => target,
        None => {
            // No DTU given: serve a simulated meter on loopback.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let target = listener.local_addr()?.to_string();
            let server = MeterServer::new(vec![(Meter::new(meter), Sim)]);
            tokio::spawn(server.listen(listener));
            target
        }
    };

    let client = Client::connect_tcp(&target, ClientConfig::tcp()).await?;
    let reading = client.read(meter, Di(0x0001_0000)).await?;
    println!("{}: {} kWh", reading.address, reading.number()?);
    Ok(())
}
