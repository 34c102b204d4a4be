//! What an operator watches: the chat server's Prometheus metrics.
//!
//! Every event is counted once, where it is decided: a refused request where the refusal is
//! sent, a delivery where a frame enters a recipient's outbox, a disconnect where the session
//! knows how it ended. Labels have small fixed value sets (an HTTP status, a close code), never a
//! user name or an address. The exposition is the OpenMetrics text format that Prometheus
//! scrapes, written by `prometheus-client`; process metrics (memory, descriptors, CPU) are read
//! from /proc at each scrape.

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`ChatMetrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An HTTP status label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// The status code sent.
    pub status: u16,
}

/// A close code label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The close code sent or received; 1006 when there was none.
    pub code: u16,
}

/// The chat server's metrics. Cheap to update from any task (atomics).
#[derive(Debug)]
pub struct ChatMetrics {
    /// Open chat connections.
    pub connections: Gauge,
    /// Upgrades accepted (101 sent).
    pub connections_accepted: Counter,
    /// Requests refused, by the HTTP status sent.
    pub handshake_rejections: Family<StatusLabel, Counter>,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: Counter,
    /// Chat messages and whispers accepted from clients and published.
    pub messages_received: Counter,
    /// Messages refused by flood control.
    pub messages_throttled: Counter,
    /// Frames queued to clients (each recipient counts).
    pub frames_delivered: Counter,
    /// Ended connections, by the close code sent or received (1006 when there was none).
    pub disconnects: Family<CodeLabel, Counter>,
    /// Outboxes that overflowed (their connection was closed with 1008).
    pub outbox_overflows: Counter,
    /// From a frame entering a recipient's outbox to its write to the socket.
    pub delivery_latency: Histogram,
    registry: Registry,
}

impl Default for ChatMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatMetrics {
    /// Every metric at zero, registered.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let connections = Gauge::default();
        let connections_accepted = Counter::default();
        let handshake_rejections = Family::<StatusLabel, Counter>::default();
        let tls_handshake_failures = Counter::default();
        let messages_received = Counter::default();
        let messages_throttled = Counter::default();
        let frames_delivered = Counter::default();
        let disconnects = Family::<CodeLabel, Counter>::default();
        let outbox_overflows = Counter::default();
        // 10 µs to about 10 s.
        let delivery_latency = Histogram::new(exponential_buckets(1e-5, 2.0, 21));
        let chat = registry.sub_registry_with_prefix("wschat");
        chat.register("connections", "Open chat connections", connections.clone());
        chat.register(
            "connections_accepted",
            "WebSocket upgrades accepted",
            connections_accepted.clone(),
        );
        chat.register(
            "handshake_rejections",
            "Requests refused, by the HTTP status sent",
            handshake_rejections.clone(),
        );
        chat.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            tls_handshake_failures.clone(),
        );
        chat.register(
            "messages_received",
            "Chat messages and whispers accepted from clients",
            messages_received.clone(),
        );
        chat.register(
            "messages_throttled",
            "Messages refused by flood control",
            messages_throttled.clone(),
        );
        chat.register(
            "frames_delivered",
            "Frames queued to clients",
            frames_delivered.clone(),
        );
        chat.register(
            "disconnects",
            "Ended connections, by the close code sent or received (1006: none)",
            disconnects.clone(),
        );
        chat.register(
            "outbox_overflows",
            "Clients cut off because their outbound queue was full",
            outbox_overflows.clone(),
        );
        chat.register_with_unit(
            "delivery_latency",
            "From publishing a message to writing it to a recipient's socket",
            Unit::Seconds,
            delivery_latency.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            connections,
            connections_accepted,
            handshake_rejections,
            tls_handshake_failures,
            messages_received,
            messages_throttled,
            frames_delivered,
            disconnects,
            outbox_overflows,
            delivery_latency,
            registry,
        }
    }

    /// Counts a refused request.
    pub fn rejected(&self, status: u16) {
        self.handshake_rejections
            .get_or_create(&StatusLabel { status })
            .inc();
    }

    /// Counts an ended connection.
    pub fn disconnected(&self, code: u16) {
        self.disconnects.get_or_create(&CodeLabel { code }).inc();
    }

    /// Records one delivery's latency.
    pub fn delivered_after(&self, latency: Duration) {
        self.delivery_latency.observe(latency.as_secs_f64());
    }

    /// The exposition, in the OpenMetrics text format ([`CONTENT_TYPE`]).
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// `process_*` metrics from /proc/self, read at each scrape (Linux; elsewhere none).
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(process) = ProcessStats::read() else {
            return Ok(());
        };
        let rss = ConstGauge::new(process.resident_bytes as i64);
        rss.encode(encoder.encode_descriptor(
            "process_resident_memory",
            "Resident memory",
            Some(&Unit::Bytes),
            rss.metric_type(),
        )?)?;
        let fds = ConstGauge::new(process.open_fds as i64);
        fds.encode(encoder.encode_descriptor(
            "process_open_fds",
            "Open file descriptors",
            None,
            fds.metric_type(),
        )?)?;
        let cpu = ConstCounter::new(process.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu",
            "User and system CPU time",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        Ok(())
    }
}

/// What /proc says about this process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessStats {
    /// VmRSS in bytes.
    pub resident_bytes: u64,
    /// Entries in /proc/self/fd.
    pub open_fds: u64,
    /// utime + stime in seconds.
    pub cpu_seconds: f64,
}

impl ProcessStats {
    /// Reads /proc/self; `None` where there is no /proc.
    #[must_use]
    pub fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let resident_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        // Fields after the command (which may contain spaces) start after the last ')'.
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Self {
            resident_bytes: resident_kib * 1024,
            open_fds,
            cpu_seconds: ticks as f64 / clock_ticks_per_second(),
        })
    }
}

/// `USER_HZ`, which is 100 on every Linux architecture Rust targets.
fn clock_ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_in_the_exposition_with_its_value() {
        let metrics = ChatMetrics::new();
        metrics.connections.set(2);
        metrics.connections_accepted.inc_by(3);
        metrics.rejected(403);
        metrics.rejected(403);
        metrics.rejected(404);
        metrics.disconnected(1000);
        metrics.messages_received.inc();
        metrics.frames_delivered.inc_by(7);
        metrics.delivered_after(Duration::from_micros(150));
        let text = metrics.encode();
        for line in [
            "wschat_connections 2",
            "wschat_connections_accepted_total 3",
            "wschat_handshake_rejections_total{status=\"403\"} 2",
            "wschat_handshake_rejections_total{status=\"404\"} 1",
            "wschat_disconnects_total{code=\"1000\"} 1",
            "wschat_messages_received_total 1",
            "wschat_frames_delivered_total 7",
            "wschat_outbox_overflows_total 0",
            "wschat_delivery_latency_seconds_count 1",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE process_open_fds gauge",
            "# TYPE process_cpu_seconds counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn process_stats_are_plausible() {
        let stats = ProcessStats::read().unwrap();
        assert!(stats.resident_bytes > 1 << 20);
        assert!(stats.open_fds >= 3);
        assert!(stats.cpu_seconds >= 0.0);
    }
}
