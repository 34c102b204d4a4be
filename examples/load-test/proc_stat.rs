//! CPU time and resident memory of a process, from /proc.

use std::process::Command;
use std::sync::OnceLock;

/// Clock ticks per second of the utime/stime fields (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of `pid` (all its threads), in seconds; `None` once the process is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_times(pid).map(|(user, system)| user + system)
}

/// (utime, stime) of `pid` (all its threads), in seconds.
pub fn cpu_times(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the command name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks_per_second();
    Some((utime / ticks, stime / ticks))
}

/// This process's own utime + stime, in seconds.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// VmRSS of `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time of `pid`'s live threads in seconds, to the nanosecond: the sum of the first field of
/// /proc/PID/task/*/schedstat (time on a CPU, user and kernel). Finer than [`cpu_seconds`]'s
/// clock ticks (10 ms), which matters for runs of a few tens of milliseconds; falls back to it
/// where schedstat is missing. Threads that have exited are not counted (tokio's workers live
/// as long as the runtime).
pub fn cpu_seconds_fine(pid: u32) -> Option<f64> {
    let fine = (|| {
        let mut total_ns = 0u64;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            total_ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(total_ns as f64 / 1e9)
    })();
    fine.or_else(|| cpu_seconds(pid))
}
