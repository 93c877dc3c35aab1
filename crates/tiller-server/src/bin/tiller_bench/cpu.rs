//! Where the CPU went during a measured window, read from `/proc` (Linux only; elsewhere
//! every figure is absent). Threads are grouped by name: the server runtime's workers are
//! named [`SERVER_THREADS`], the load generator's [`CLIENT_THREADS`], and sqlx's SQLite
//! connection threads `sqlx-sqlite-worker-N`. The machine-wide figure shows how much went to
//! other processes (PostgreSQL, or whatever else the machine was doing).

use std::{collections::BTreeMap, fs, time::Instant};

/// Thread name of the runtime that serves Tiller and the baseline.
pub const SERVER_THREADS: &str = "bench-server";
/// Thread name of the runtime that runs the load generator.
pub const CLIENT_THREADS: &str = "bench-client";

/// Linux reports per-thread CPU in `USER_HZ` ticks, 100 a second on every mainstream build.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    /// Ticks by thread group.
    groups: BTreeMap<&'static str, u64>,
    /// Busy and total ticks of the whole machine, all CPUs.
    machine: Option<(u64, u64)>,
}

/// CPU use over a window, in cores (CPU-seconds per wall-second).
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub server: f64,
    pub sqlite: f64,
    pub client: f64,
    pub other_threads: f64,
    /// Busy cores machine-wide, including this process.
    pub machine_busy: Option<f64>,
    pub machine_cores: Option<f64>,
}

impl Split {
    pub fn process(&self) -> f64 {
        self.server + self.sqlite + self.client + self.other_threads
    }

    /// Busy cores outside this process (PostgreSQL, other users of the machine).
    pub fn outside(&self) -> Option<f64> {
        self.machine_busy.map(|m| (m - self.process()).max(0.0))
    }
}

pub fn snapshot() -> Snapshot {
    let mut groups = BTreeMap::new();
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let dir = task.path();
            let name = fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let Some(ticks) = fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|s| thread_ticks(&s))
            else {
                continue;
            };
            *groups.entry(group_of(name.trim())).or_insert(0) += ticks;
        }
    }
    Snapshot {
        at: Instant::now(),
        groups,
        machine: fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| machine_ticks(&s)),
    }
}

pub fn between(a: &Snapshot, b: &Snapshot) -> Split {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let cores = |group: &str| {
        let ticks = |s: &Snapshot| s.groups.get(group).copied().unwrap_or(0);
        // A thread that ended inside the window takes its ticks with it: never below zero.
        ticks_f64(ticks(b).saturating_sub(ticks(a))) / TICKS_PER_SEC / secs
    };
    let (machine_busy, machine_cores) = match (a.machine, b.machine) {
        (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
            let total = ticks_f64(total1 - total0);
            let busy = ticks_f64(busy1.saturating_sub(busy0));
            // `total` covers every CPU, so total / wall time is the number of CPUs.
            let ncpu = total / TICKS_PER_SEC / secs;
            (Some(busy / total * ncpu), Some(ncpu))
        }
        _ => (None, None),
    };
    Split {
        server: cores(SERVER_THREADS),
        sqlite: cores("sqlite"),
        client: cores(CLIENT_THREADS),
        other_threads: cores("other"),
        machine_busy,
        machine_cores,
    }
}

fn group_of(name: &str) -> &'static str {
    if name.starts_with(SERVER_THREADS) {
        SERVER_THREADS
    } else if name.starts_with(CLIENT_THREADS) {
        CLIENT_THREADS
    } else if name.starts_with("sqlx-sqlite") {
        "sqlite"
    } else {
        "other"
    }
}

/// utime + stime of one `/proc/<pid>/task/<tid>/stat` line. The name field may hold
/// spaces, so fields are counted after its closing parenthesis.
fn thread_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After `)`: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// (busy, total) ticks from the aggregate `cpu` line of `/proc/stat`.
fn machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied()? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

#[expect(
    clippy::cast_precision_loss,
    reason = "tick counts stay far below 2^52"
)]
fn ticks_f64(t: u64) -> f64 {
    t as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_thread_stat_line_with_spaces_in_the_name() {
        let line = "42 (bench server 1) S 1 42 42 0 -1 4194368 10 0 0 0 7 5 0 0 20 0 1 0";
        assert_eq!(thread_ticks(line), Some(12));
    }

    #[test]
    fn parses_the_machine_line() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n";
        assert_eq!(machine_ticks(stat), Some((150, 1000)));
    }
}
