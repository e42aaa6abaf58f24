//! Logging and metrics, set up once. `RUST_LOG` filters (default `info`); each request logs one
//! line carrying its request id. Never log a credential, a password or a hash. Metrics are kept
//! by the `metrics` facade and rendered in Prometheus text by `GET /metrics`.

use std::{cell::RefCell, collections::HashMap, io::IsTerminal, sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A duration for a log line, in milliseconds rounded to two decimals: `0.07`, not
/// `0.07364899999999999` (a number in JSON logs too).
pub fn log_millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 100_000.0).round() / 100.0
}

/// Request latency buckets, in seconds: from a cached read to a slow password hash.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process-wide metrics recorder, installed on first use. A thread drains histogram samples
/// into their buckets every few seconds, so memory stays flat between scrapes.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        let upkeep = handle.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// Counts one finished request under its route template (never the raw path, whose ids would
/// make one series per user).
/// The handles of each (route, method, status) series are registered once and kept here, so a
/// request costs a lookup and two atomic updates instead of building label strings and hashing
/// them into the recorder's registry.
pub fn record_request(method: &str, route: &str, status: u16, seconds: f64) {
    metrics();
    thread_local! {
        static SERIES: RefCell<HashMap<String, Vec<Series>>> = RefCell::new(HashMap::new());
    }
    SERIES.with(|series| {
        let mut series = series.borrow_mut();
        let of_route = match series.get_mut(route) {
            Some(of_route) => of_route,
            None => series.entry(route.to_owned()).or_default(),
        };
        let position = of_route
            .iter()
            .position(|s| s.method == method && s.status == status);
        let one = match position {
            Some(position) => &of_route[position],
            None => {
                of_route.push(Series::register(method, route, status));
                of_route.last().expect("just pushed")
            }
        };
        one.requests.increment(1);
        one.duration.record(seconds);
    });
}

struct Series {
    method: String,
    status: u16,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

impl Series {
    fn register(method: &str, route: &str, status: u16) -> Self {
        let labels = [("method", method.to_owned()), ("route", route.to_owned())];
        let requests = metrics::counter!(
            "http_requests_total",
            &[
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ]
        );
        let duration = metrics::histogram!("http_request_duration_seconds", &labels);
        Self {
            method: method.to_owned(),
            status,
            requests,
            duration,
        }
    }
}

/// Counts rows the retention sweeper deleted (`kind`: `sessions` or `idempotency`).
pub fn record_swept(kind: &'static str, rows: u64) {
    metrics();
    metrics::counter!("sweeper_deleted_total", "kind" => kind).increment(rows);
}

/// Counts one sweep by outcome (`ok` or `error`); a successful one also sets the time of the
/// last success, for alerting on a sweeper that keeps failing.
pub fn record_sweep(ok: bool) {
    metrics();
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("sweeper_runs_total", "outcome" => outcome).increment(1);
    if ok {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!("sweeper_last_success_timestamp_seconds").set(now);
    }
}

/// Counts one message sent (`mail_sent_total`) or given up (`mail_failed_total`), by kind.
pub fn record_mail(kind: &'static str, sent: bool) {
    metrics();
    if sent {
        metrics::counter!("mail_sent_total", "kind" => kind).increment(1);
    } else {
        metrics::counter!("mail_failed_total", "kind" => kind).increment(1);
    }
}

/// Counts one failed attempt of a message that will be tried again (`mail_retries_total`).
pub fn record_mail_retry(kind: &'static str) {
    metrics();
    metrics::counter!("mail_retries_total", "kind" => kind).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_durations_have_at_most_two_decimals() {
        for (duration, shown) in [
            (Duration::from_nanos(73_649), "0.07"),
            (Duration::from_nanos(1_234_567), "1.23"),
            (Duration::from_nanos(5_000), "0.01"),
            (Duration::from_millis(250), "250.0"),
        ] {
            assert_eq!(format!("{:?}", log_millis(duration)), shown);
            assert_eq!(serde_json::json!(log_millis(duration)).to_string(), shown);
        }
    }
}
