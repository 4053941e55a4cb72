//! Figures: percentiles, a process's memory and CPU time from `/proc`, throughput, and the way
//! every scenario reports (one JSON line, then a table).

use std::time::Duration;

/// The `p` quantile (0..=1) of sorted samples, nearest rank.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds, for reports.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// Decimal megabytes per second (MB/s, as `dd` and `pv` print them).
pub(crate) fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let v = bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9);
    (v * 10.0).round() / 10.0
}

/// KiB to MiB, one decimal.
pub(crate) fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Rounded to 3 decimals.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { (a / b * 1000.0).round() / 1000.0 }
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident memory of a running process (`VmHWM`), in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// Resident memory of a running process now (`VmRSS`), in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// CPU time a process has used so far, all its threads, from the scheduler's own nanosecond
/// accounting (`/proc/PID/task/*/schedstat`), which is finer than the clock ticks of `stat`.
/// Threads that already ended are not counted: measure a long-lived process (`serve`).
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    Duration::from_nanos(nanos)
}

/// Prints the scenario's JSON line.
pub(crate) fn emit(figures: serde_json::Value) {
    println!("{figures}");
}

/// Prints a table: a title, a header row and rows, columns padded to their widest cell.
pub(crate) fn table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        println!("  {}", padded.join("  "));
    };
    println!("{title}");
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

/// `serve`'s own defaults for polling, heartbeats and ticks, instead of the harness's fast
/// test values: the benchmarks measure what an operator runs.
pub(crate) const SERVE_DEFAULTS: [(&str, &str); 5] = [
    ("QUEUE_POLL_MS", "250"),
    ("QUEUE_HEARTBEAT_MS", "10000"),
    ("QUEUE_MISSED_HEARTBEATS", "3"),
    ("SCHEDULER_TICK_MS", "1000"),
    ("RETRY_DELAY_SECS", "30"),
];
