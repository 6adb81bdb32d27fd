//! A Q/GDW 376.1 front end: accepts terminals, reads F25 of measurement point 1 of each every
//! minute, prints it. `cargo run -p amikit-io --example front_end -- 0.0.0.0:9376`, or
//! `-- --demo`: a simulated terminal in-process, exit after its first reading.
use amikit_gdw376::format::Format09;
use amikit_gdw376::session::master::{IdentityPolicy, MasterConfig, write_units};
use amikit_gdw376::session::terminal::{
    ItemRequest, Refusal, RequestHandler, Terminal, TerminalConfig,
};
use amikit_gdw376::units::{Reader, Realtime, UnitLayout as _, Writer, read_options};
use amikit_gdw376::{Address, Afn, InfoClass, Item, Pn, Profile};
use amikit_io::gdw376::{DriverConfig, FrontEnd, FrontEndConfig, FrontEndEvent, TerminalDriver};
use std::time::Duration;

const PROFILE: Profile = Profile::STRICT_2013;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:9376".into());
    let demo = arg == "--demo";
    let mut master = MasterConfig::new(PROFILE);
    // No identity keys here: use `FrontEnd::bind_with` and keep `IdentityPolicy::Required`.
    master.identity = IdentityPolicy::NotChecked;
    let listen = if demo { "127.0.0.1:0" } else { arg.as_str() };
    let (front_end, mut events) = FrontEnd::bind(listen, FrontEndConfig::new(master)).await?;
    println!("listening on {}", front_end.local_addr());
    let _terminal = demo.then(|| simulated_terminal(&front_end.local_addr().to_string()));

    while let Some(event) = events.recv().await {
        match event {
            FrontEndEvent::Registered { terminal } => {
                let front_end = front_end.clone();
                tokio::spawn(async move {
                    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
                    loop {
                        every_minute.tick().await;
                        match read_f25(&front_end, terminal).await {
                            Ok(kw) => println!("{terminal}: total active power {kw} kW"),
                            Err(e) => println!("{terminal}: {e}"),
                        }
                        if demo {
                            std::process::exit(0)
                        }
                    }
                });
            }
            other => println!("{other:?}"),
        }
    }
    Ok(())
}

/// AFN 0C F25 of measurement point 1; the total active power.
async fn read_f25(
    front_end: &FrontEnd,
    terminal: Address,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut units = [0u8; 4];
    let n = write_units(&mut units, &[(Pn(1), InfoClass(25), &[])])?;
    let response = front_end
        .read(terminal, units.get(..n).unwrap_or(&[]))
        .await?;
    for item in response.units(&PROFILE) {
        if let Item::Unit(unit) = item
            && unit.fn_ == InfoClass(25)
        {
            let rt = Realtime::parse(&mut Reader::new(unit.data, read_options(&PROFILE)))?;
            return Ok(rt.active_power[0].map_or("(none)".into(), |p| p.to_string()));
        }
    }
    Err("no F25 in the response".into())
}

/// The demo's terminal 0171-8: total active power 1.1173 kW.
struct Demo;

impl RequestHandler for Demo {
    fn read(&mut self, req: &ItemRequest<'_>, out: &mut [u8]) -> Result<usize, Refusal> {
        if (req.afn, req.fn_) != (Afn::CLASS1, InfoClass(25)) {
            return Err(Refusal::NoData);
        }
        let mut rt = Realtime::default();
        rt.active_power[0] = Format09::from_mantissa(11_173).ok();
        let mut w = Writer::new(out);
        rt.emit(&mut w).map_err(|_| Refusal::NoData)?;
        Ok(w.pos())
    }
}

fn simulated_terminal(master: &str) -> TerminalDriver {
    let address = Address {
        a1: 0x0171,
        a2: 8,
        ..Address::default()
    };
    let terminal: Terminal = Terminal::new(TerminalConfig::new(address));
    TerminalDriver::spawn(terminal, Demo, DriverConfig::new(master)).0
}
