//! The DL/T 645 client against the meter-side server: over loopback TCP and a pseudo-terminal
//! pair, with injected echo, noise and a silent meter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use amikit_dlt645::value::Value;
use amikit_dlt645::{Auth, DataId, Decimal, ErrorWord, OperatorCode, Password, RemoteCommand};
use amikit_io::Error;
use amikit_io::dlt645::{Client, ClientConfig, Faults, MeterServer};
use common::*;
use tokio::net::TcpListener;

async fn tcp_bus(
    count: u64,
) -> (
    Client,
    MeterServer<SimMeter, 1024>,
    std::sync::Arc<std::sync::Mutex<Log>>,
) {
    let (meters, log) = meters(count);
    let server = MeterServer::new(meters).with_clock(|| Some(now()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.clone().listen(listener));
    let mut config = ClientConfig::tcp();
    config.response_timeout = Duration::from_millis(300);
    config.retries = 1;
    let client = Client::connect_tcp(&addr.to_string(), config)
        .await
        .unwrap();
    (client, server, log)
}

fn auth(password: Password) -> Auth {
    Auth {
        password,
        operator: OperatorCode([0x01, 0x02, 0x03, 0x04]),
    }
}

#[tokio::test]
async fn reads_energy_as_a_typed_value_through_echo_and_noise() {
    let (client, server, _) = tcp_bus(3).await;
    server.set_faults(Faults {
        echo: true,
        noise: vec![0x00, 0x68, 0x11, 0xFF, 0x16],
        ..Faults::default()
    });
    let reading = client.read(meter_address(2), ENERGY).await.unwrap();
    assert_eq!(reading.address, meter_address(2));
    assert_eq!(reading.di, DataId::V2007(ENERGY));
    assert_eq!(reading.frames, 1);
    // 123456 + 2 hundredths of a kWh.
    assert_eq!(
        reading.number().unwrap(),
        "1234.58".parse::<Decimal>().unwrap()
    );
    assert!(matches!(reading.value().unwrap(), Some(Value::Number(_))));
    let stats = client.stats();
    assert!(stats.echo_bytes >= 16, "{stats:?}");
    assert!(stats.noise_bytes >= 5, "{stats:?}");
    assert_eq!((stats.requests, stats.replies, stats.timeouts), (1, 1, 0));
}

#[tokio::test]
async fn follows_up_frames_until_the_value_is_complete() {
    let (client, _, _) = tcp_bus(1).await;
    let reading = client.read(meter_address(1), LONG).await.unwrap();
    assert_eq!(reading.data().len(), LONG_LEN);
    let mut bytes = vec![0; LONG_LEN];
    reading.data().copy_to(&mut bytes);
    assert_eq!(bytes, long_value());
    assert!(reading.frames >= 3, "{}", reading.frames);
    assert_eq!(client.stats().requests, u64::from(reading.frames));
}

#[tokio::test]
async fn an_unknown_identifier_is_refused_with_the_meters_error_word() {
    let (client, _, _) = tcp_bus(1).await;
    match client
        .read(meter_address(1), amikit_dlt645::Di(0x0201_0100))
        .await
    {
        Err(Error::Refused(word)) => assert!(word.contains(ErrorWord::NO_REQUESTED_DATA)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn writes_and_remote_control_need_the_password() {
    let (client, _, log) = tcp_bus(1).await;
    let di = amikit_dlt645::Di(0x0400_0C01);
    client
        .write(meter_address(1), di, auth(PASSWORD), &[0x11, 0x22])
        .await
        .unwrap();
    match client
        .write(
            meter_address(1),
            di,
            auth(Password::new(2, 654321)),
            &[0x33],
        )
        .await
    {
        Err(Error::Refused(word)) => assert!(word.contains(ErrorWord::UNAUTHORISED)),
        other => panic!("{other:?}"),
    }
    client
        .remote_control(
            meter_address(1),
            auth(PASSWORD),
            RemoteCommand::Trip,
            later(),
        )
        .await
        .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.writes, vec![(di, vec![0x11, 0x22])]);
    assert_eq!(log.controls, vec![RemoteCommand::Trip]);
}

#[tokio::test]
async fn broadcast_time_reaches_every_meter_and_is_not_answered() {
    let (client, _, log) = tcp_bus(2).await;
    client.broadcast_time(later()).await.unwrap();
    // The next exchange proves the broadcast was processed first (one stream, in order).
    client.read(meter_address(1), ENERGY).await.unwrap();
    assert_eq!(log.lock().unwrap().times, vec![later(), later()]);
    assert_eq!(client.stats().unmatched, 0);
}

#[tokio::test]
async fn a_silent_meter_times_out_after_every_retry_and_the_bus_goes_on() {
    let (client, server, _) = tcp_bus(1).await;
    server.set_faults(Faults {
        silent: true,
        ..Faults::default()
    });
    match client.read(meter_address(1), ENERGY).await {
        Err(Error::Timeout { attempts, .. }) => assert_eq!(attempts, 2),
        other => panic!("{other:?}"),
    }
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries, stats.timeouts), (2, 1, 1));
    server.set_faults(Faults::default());
    assert!(client.read(meter_address(1), ENERGY).await.is_ok());
}

#[tokio::test]
async fn a_meter_that_is_not_on_the_bus_times_out() {
    let (client, _, _) = tcp_bus(1).await;
    assert!(matches!(
        client.read(meter_address(9), ENERGY).await,
        Err(Error::Timeout { .. })
    ));
}

#[tokio::test]
async fn many_handles_share_one_bus_one_request_at_a_time() {
    let (client, _, log) = tcp_bus(5).await;
    let mut tasks = Vec::new();
    for task in 0..10u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20u64 {
                let n = 1 + (task + i) % 5;
                let reading = client.read(meter_address(n), ENERGY).await.unwrap();
                let expected = Decimal::new(i64::try_from(123_456 + n).unwrap(), 2);
                assert_eq!(reading.number().unwrap(), expected);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = client.stats();
    assert_eq!(
        (stats.requests, stats.replies, stats.unmatched),
        (200, 200, 0)
    );
    assert_eq!(log.lock().unwrap().reads, 200);
}

#[tokio::test]
async fn reconnects_after_the_link_drops() {
    let (meters, _) = meters(1);
    let server = MeterServer::new(meters).with_clock(|| Some(now()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The first connection is accepted and closed at once; later ones are served.
    let accept = tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        drop(first);
        server.listen(listener).await
    });
    let mut config = ClientConfig::tcp();
    config.response_timeout = Duration::from_millis(300);
    let client = Client::connect_tcp(&addr.to_string(), config)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        client.read(meter_address(1), ENERGY).await,
        Err(Error::Io(_))
    ));
    let reading = client.read(meter_address(1), ENERGY).await.unwrap();
    assert_eq!(reading.number().unwrap(), Decimal::new(123_457, 2));
    assert_eq!(client.stats().reconnects, 1);
    accept.abort();
}

#[cfg(all(unix, feature = "serial"))]
#[tokio::test]
async fn reads_over_a_pseudo_terminal_pair_with_echo() {
    let (master_end, meter_end) = tokio_serial::SerialStream::pair().unwrap();
    let (meters, _) = meters(2);
    let server = MeterServer::new(meters).with_clock(|| Some(now()));
    server.set_faults(Faults {
        echo: true,
        noise: vec![0xFE, 0x00, 0x16],
        ..Faults::default()
    });
    let serve = tokio::spawn({
        let server = server.clone();
        async move { server.serve(meter_end).await }
    });
    let client = Client::new(master_end, ClientConfig::serial());
    let reading = client.read(meter_address(2), ENERGY).await.unwrap();
    assert_eq!(reading.number().unwrap(), Decimal::new(123_458, 2));
    let long = client.read(meter_address(1), LONG).await.unwrap();
    assert_eq!(long.data().len(), LONG_LEN);
    assert!(client.stats().echo_bytes > 0);
    serve.abort();
}

#[tokio::test]
async fn any_byte_stream_carries_a_bus_an_in_memory_pipe_here() {
    let (master_end, meter_end) = tokio::io::duplex(256);
    let (meters, _) = meters(1);
    let server = MeterServer::new(meters).with_clock(|| Some(now()));
    let serve = tokio::spawn(async move { server.serve(meter_end).await });
    let mut config = ClientConfig::serial();
    config.gap = Duration::ZERO;
    let client = Client::new(master_end, config);
    let reading = client.read(meter_address(1), LONG).await.unwrap();
    assert_eq!(reading.data().len(), LONG_LEN);
    drop(client);
    // The bus task ends with its last handle and closes the pipe: the server sees the end.
    serve.await.unwrap().unwrap();
}
