//! The verdict: one line on stdout with every count, PASS only if nothing was lost, duplicated,
//! reordered, garbled, refused or closed under a client; the problems in words on stderr.

use std::fmt;

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// From latencies in microseconds (sorted here); `None` if there are none.
    pub fn from_micros(mut micros: Vec<u32>) -> Option<Self> {
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest value with at least q of all values at or below it.
            let rank = (q * micros.len() as f64).ceil() as usize;
            f64::from(micros[rank.clamp(1, micros.len()) - 1]) / 1000.0
        };
        Some(Self {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub clients: u32,
    pub seconds: f64,
    pub rate: f64,
    pub sent: u64,
    pub delivered: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub mismatched: u64,
    pub errors: u64,
    pub unexpected_closes: u64,
    pub connect_failures: u64,
    pub reconnects: u64,
    /// The run did not finish in time (a hang somewhere).
    pub timed_out: bool,
    pub latency: Option<Latency>,
    pub server_peak_rss_kib: Option<u64>,
    pub server_fds_start: Option<usize>,
    pub server_fds_end: Option<usize>,
}

impl Verdict {
    pub fn pass(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.mismatched == 0
            && self.errors == 0
            && self.unexpected_closes == 0
            && self.connect_failures == 0
            && !self.timed_out
            && self.delivered == self.expected
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_na = |value: Option<String>| value.unwrap_or_else(|| "n/a".to_owned());
        write!(
            f,
            "soak: {} clients={} seconds={} rate={} sent={} delivered={} expected={} lost={} \
             duplicated={} out_of_order={} mismatched={} errors={} unexpected_closes={} \
             connect_failures={} reconnects={}",
            if self.pass() { "PASS" } else { "FAIL" },
            self.clients,
            self.seconds,
            self.rate,
            self.sent,
            self.delivered,
            self.expected,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.mismatched,
            self.errors,
            self.unexpected_closes,
            self.connect_failures,
            self.reconnects,
        )?;
        if self.timed_out {
            f.write_str(" timed_out=yes")?;
        }
        match self.latency {
            Some(l) => write!(
                f,
                " latency_ms p50={:.2} p99={:.2} max={:.1}",
                l.p50, l.p99, l.max
            )?,
            None => f.write_str(" latency_ms p50=n/a p99=n/a max=n/a")?,
        }
        write!(
            f,
            " server_peak_rss_kib={} server_fds_start={} server_fds_end={}",
            or_na(self.server_peak_rss_kib.map(|v| v.to_string())),
            or_na(self.server_fds_start.map(|v| v.to_string())),
            or_na(self.server_fds_end.map(|v| v.to_string())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let latency = Latency::from_micros((1..=1000).rev().collect()).unwrap();
        assert_eq!(latency.p50, 0.5);
        assert_eq!(latency.p99, 0.99);
        assert_eq!(latency.max, 1.0);
        assert_eq!(Latency::from_micros(vec![]), None);
        assert_eq!(Latency::from_micros(vec![7]).unwrap().p50, 0.007);
    }

    #[test]
    fn any_problem_fails_and_the_line_has_every_field() {
        let verdict = Verdict {
            clients: 2,
            seconds: 1.0,
            rate: 2.0,
            sent: 2,
            delivered: 4,
            expected: 4,
            ..Verdict::default()
        };
        assert!(verdict.pass());
        assert_eq!(
            verdict.to_string(),
            "soak: PASS clients=2 seconds=1 rate=2 sent=2 delivered=4 expected=4 lost=0 \
             duplicated=0 out_of_order=0 mismatched=0 errors=0 unexpected_closes=0 \
             connect_failures=0 reconnects=0 latency_ms p50=n/a p99=n/a max=n/a \
             server_peak_rss_kib=n/a server_fds_start=n/a server_fds_end=n/a"
        );
        let lost = Verdict {
            lost: 1,
            ..verdict.clone()
        };
        assert!(lost.to_string().starts_with("soak: FAIL "));
        let closed = Verdict {
            unexpected_closes: 1,
            ..verdict
        };
        assert!(!closed.pass());
    }
}
