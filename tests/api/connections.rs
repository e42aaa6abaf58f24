//! Clients that never finish: silent and slowloris connections, idle keep-alive, stalled
//! bodies, the connection cap, and a shutdown that does not wait for any of them.

use std::time::Duration;

use tokio::{
    io::AsyncWriteExt,
    net::TcpStream,
    time::{Instant, interval, sleep, timeout},
};

use crate::{
    helpers::{TestApp, TestOptions, spawn_app_with},
    raw::{PATIENCE, connect, read_response, time_to_close},
};

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

/// A server with deadlines short enough for a test.
async fn spawn_with(configure: impl FnOnce(&mut TestOptions)) -> TestApp {
    let mut options = TestOptions::default();
    configure(&mut options);
    spawn_app_with(options).await
}

async fn healthz_is_served(app: &TestApp) {
    let response = timeout(PATIENCE, app.http().get(app.url("/healthz")).send())
        .await
        .expect("a normal client is served within PATIENCE")
        .expect("request");
    assert_eq!(response.status(), 200);
}

/// A slowloris: starts a request head and sends one more header byte every 200 ms, for as long
/// as the server lets it; returns how long the server let it.
async fn slowloris(address: String) -> Option<Duration> {
    let mut stream = TcpStream::connect(&address).await.ok()?;
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .await
        .ok()?;
    let mut ticks = interval(Duration::from_millis(200));
    while started.elapsed() < PATIENCE {
        ticks.tick().await;
        if stream.write_all(b"a").await.is_err() {
            return Some(started.elapsed());
        }
        // A closed connection shows as a failed write only once the reset is back: check reads.
        if let Ok(Some(_)) = timeout(Duration::from_millis(1), time_to_close(&mut stream)).await {
            return Some(started.elapsed());
        }
    }
    None
}

#[tokio::test]
async fn silent_and_slowloris_connections_are_closed_at_the_header_deadline_and_others_are_served()
{
    let app = spawn_with(|o| {
        o.connections.header_read_timeout = Duration::from_secs(1);
        o.connections.max_connections = 64;
    })
    .await;
    let address = app.socket_address().to_owned();
    let mut silent = Vec::new();
    for _ in 0..30 {
        silent.push(connect(&address).await);
    }
    let slow: Vec<_> = (0..10)
        .map(|_| tokio::spawn(slowloris(address.clone())))
        .collect();
    healthz_is_served(&app).await;
    for stream in &mut silent {
        let closed = time_to_close(stream).await;
        assert!(
            closed.is_some(),
            "a silent connection outlived the header deadline"
        );
    }
    for slow in slow {
        let lived = slow.await.unwrap().expect("the slowloris was closed");
        assert!(
            lived >= Duration::from_millis(800),
            "closed after {lived:?}, before the deadline"
        );
    }
    healthz_is_served(&app).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = spawn_with(|o| {
        o.connections.keep_alive_timeout = Duration::from_secs(1);
        o.connections.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let mut stream = connect(app.socket_address()).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut stream).await.unwrap().status, 200);
    // A second request on the same connection: it is kept alive between requests.
    stream.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut stream).await.unwrap().status, 200);
    let idle = time_to_close(&mut stream)
        .await
        .expect("the idle connection is closed");
    assert!(idle >= Duration::from_millis(800), "closed after {idle:?}");
}

#[tokio::test]
async fn a_head_that_stalls_after_a_keep_alive_pause_is_closed_at_the_header_deadline() {
    let app = spawn_with(|o| {
        o.connections.header_read_timeout = Duration::from_secs(1);
        o.connections.keep_alive_timeout = Duration::from_secs(60);
    })
    .await;
    let mut stream = connect(app.socket_address()).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut stream).await.unwrap().status, 200);
    sleep(Duration::from_millis(300)).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Stuck: ")
        .await
        .unwrap();
    let stuck = time_to_close(&mut stream)
        .await
        .expect("the stalled head is closed");
    assert!(
        stuck >= Duration::from_millis(800) && stuck < Duration::from_secs(5),
        "closed {stuck:?} after the head started: the header deadline is 1 s, keep-alive 60 s"
    );
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_request_timeout_and_the_connection_is_closed() {
    let app = spawn_with(|o| o.edge.body_read_timeout = Duration::from_secs(1)).await;
    let mut stream = connect(app.socket_address()).await;
    stream
        .write_all(
            b"POST /v1/sessions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let response = read_response(&mut stream).await.expect("a response");
    response.assert_envelope(408, "REQUEST_TIMEOUT");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(time_to_close(&mut stream).await.is_some());
}

#[tokio::test]
async fn shutdown_closes_a_client_stuck_in_its_headers_at_once_and_drains_a_request_in_flight() {
    let mut app = spawn_with(|o| {
        o.connections.header_read_timeout = Duration::from_secs(60);
        o.connections.shutdown_timeout = Duration::from_secs(60);
    })
    .await;
    let mut stuck = connect(app.socket_address()).await;
    stuck
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Stuck: ")
        .await
        .unwrap();
    let body = br#"{"org_id": "00000000-0000-0000-0000-000000000000", "email": "a@b.example", "password": "wrong"}"#;
    let mut in_flight = connect(app.socket_address()).await;
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(&body[..10]).await.unwrap();
    // Both heads (the whole one and the partial one) have reached the server.
    sleep(Duration::from_millis(300)).await;
    let finish_request = async {
        sleep(Duration::from_millis(500)).await;
        in_flight.write_all(&body[10..]).await.unwrap();
        read_response(&mut in_flight).await
    };
    let (took, response) = tokio::join!(app.shut_down(), finish_request);
    let response = response.expect("the request in flight is answered");
    response.assert_envelope(401, "UNAUTHORIZED");
    assert!(
        took < Duration::from_secs(10),
        "shutdown took {took:?}: it waited for the stuck client"
    );
    assert!(time_to_close(&mut stuck).await.is_some());
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_waits_and_is_served_once_a_slot_frees() {
    let app = spawn_with(|o| o.connections.max_connections = 2).await;
    let first = connect(app.socket_address()).await;
    let _second = connect(app.socket_address()).await;
    // Let the server accept both, so both slots are taken.
    sleep(Duration::from_millis(300)).await;
    let waiting = app.http().get(app.url("/healthz")).send();
    tokio::pin!(waiting);
    assert!(
        timeout(Duration::from_millis(700), &mut waiting)
            .await
            .is_err(),
        "served while both slots were taken"
    );
    drop(first);
    let response = timeout(PATIENCE, waiting)
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// CPU time (user + system) the process has used, in clock ticks (1/100 s on Linux).
#[cfg(target_os = "linux")]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The binary under a 256-descriptor limit, held by more silent connections than that: it caps
/// its connections below the limit (no EMFILE, no busy accept loop), idles, and serves a normal
/// client once the header deadline has freed slots.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn under_a_low_descriptor_limit_the_binary_neither_spins_nor_locks_clients_out() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sh")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_users-api"))
        .args(["--addr", "127.0.0.1:0", "--header-read-timeout", "2s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let addr = addr.split_whitespace().next().unwrap_or_default();
                let _ = found.send(addr.to_owned());
            }
        }
    });
    let address = address
        .recv_timeout(PATIENCE)
        .expect("the server logs where it listens");
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(connect(&address).await);
    }
    sleep(Duration::from_millis(300)).await;
    let before = cpu_ticks(child.id());
    sleep(Duration::from_secs(1)).await;
    let spent = cpu_ticks(child.id()) - before;
    let served = timeout(
        PATIENCE,
        reqwest::Client::new()
            .get(format!("http://{address}/healthz"))
            .send(),
    )
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(spent < 30, "{spent} ticks of CPU in one idle second");
    let response = served.expect("served within PATIENCE").unwrap();
    assert_eq!(response.status(), 200);
}
