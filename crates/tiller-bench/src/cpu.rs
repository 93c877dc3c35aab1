//! Where the CPU went during a measured window, read from `/proc` (Linux only; elsewhere
//! every figure is zero or absent). Threads are grouped by name: the server runtime's
//! workers are named [`SERVER_THREADS`], the load generator's [`CLIENT_THREADS`], the
//! webhook scenario's receiver's [`RECEIVER_THREADS`], and the SQLite threads: sqlx's
//! reader connections `sqlx-sqlite-worker-N` (one per pooled connection) and the store's
//! writer thread `tiller-sqlite-writer` (`tiller-sqlite-w` in `/proc`, which keeps 15 bytes). The machine-wide figures show what went to interrupts (loopback TCP
//! is processed in softirq) and to other processes (PostgreSQL, or whatever else the
//! machine was doing).

use std::{collections::BTreeMap, fs, time::Instant};

/// Thread name of the runtime that serves Tiller and the baseline.
pub const SERVER_THREADS: &str = "bench-server";
/// Thread name of the runtime that runs the load generator.
pub const CLIENT_THREADS: &str = "bench-client";
/// Thread name of the runtime that runs the webhook receiver.
pub const RECEIVER_THREADS: &str = "bench-receiver";
const SQLITE: &str = "sqlite";
const OTHER: &str = "other";

/// Linux reports CPU time in `USER_HZ` ticks, 100 a second on every mainstream build.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    /// Ticks by thread id, with the thread's group.
    threads: BTreeMap<u64, (&'static str, u64)>,
    machine: Option<Machine>,
}

/// Ticks of the whole machine, all CPUs together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Machine {
    /// Everything but idle and iowait, interrupts included.
    busy: u64,
    /// irq + softirq.
    irq: u64,
    total: u64,
}

/// CPU use over a window, in cores (CPU-seconds per wall-second).
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub server: f64,
    pub sqlite: f64,
    /// The busiest single SQLite connection thread; on SQLite inbound that is the writer.
    pub sqlite_busiest: f64,
    pub client: f64,
    pub receiver: f64,
    pub other_threads: f64,
    /// Busy cores machine-wide, this process and interrupts included.
    pub machine_busy: Option<f64>,
    /// Interrupt and softirq time machine-wide.
    pub machine_irq: Option<f64>,
    pub machine_cores: Option<f64>,
    /// Length of the window, to turn cores back into CPU-seconds.
    pub seconds: f64,
}

impl Split {
    pub fn process(&self) -> f64 {
        self.server + self.sqlite + self.client + self.receiver + self.other_threads
    }

    /// Busy cores in other processes (PostgreSQL, other users of the machine): what the
    /// machine did beyond this process's threads and interrupt handling.
    pub fn other_processes(&self) -> Option<f64> {
        let (busy, irq) = (self.machine_busy?, self.machine_irq?);
        Some((busy - irq - self.process()).max(0.0))
    }
}

pub fn snapshot() -> Snapshot {
    let mut threads = BTreeMap::new();
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let dir = task.path();
            let name = fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if let Some(ticks) = fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|s| thread_ticks(&s))
            {
                threads.insert(tid, (group_of(name.trim()), ticks));
            }
        }
    }
    Snapshot {
        at: Instant::now(),
        threads,
        machine: fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| machine_ticks(&s)),
    }
}

pub fn between(a: &Snapshot, b: &Snapshot) -> Split {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let cores = |ticks: u64| ticks_f64(ticks) / TICKS_PER_SEC / secs;
    let mut by_group: BTreeMap<&str, u64> = BTreeMap::new();
    let mut sqlite_busiest = 0;
    for (tid, (group, after)) in &b.threads {
        // A thread born inside the window counts from zero; one that ended is not seen.
        let before = a.threads.get(tid).map_or(0, |(_, t)| *t);
        let used = after.saturating_sub(before);
        *by_group.entry(group).or_insert(0) += used;
        if *group == SQLITE {
            sqlite_busiest = sqlite_busiest.max(used);
        }
    }
    let group = |g: &str| cores(by_group.get(g).copied().unwrap_or(0));
    let machine = match (a.machine, b.machine) {
        (Some(m0), Some(m1)) if m1.total > m0.total => Some((m0, m1)),
        _ => None,
    };
    Split {
        server: group(SERVER_THREADS),
        sqlite: group(SQLITE),
        sqlite_busiest: cores(sqlite_busiest),
        client: group(CLIENT_THREADS),
        receiver: group(RECEIVER_THREADS),
        other_threads: group(OTHER),
        machine_busy: machine.map(|(m0, m1)| cores(m1.busy.saturating_sub(m0.busy))),
        machine_irq: machine.map(|(m0, m1)| cores(m1.irq.saturating_sub(m0.irq))),
        machine_cores: machine.map(|(m0, m1)| cores(m1.total - m0.total)),
        seconds: secs,
    }
}

fn group_of(name: &str) -> &'static str {
    if name.starts_with(SERVER_THREADS) {
        SERVER_THREADS
    } else if name.starts_with(CLIENT_THREADS) {
        CLIENT_THREADS
    } else if name.starts_with(RECEIVER_THREADS) {
        RECEIVER_THREADS
    } else if name.starts_with("sqlx-sqlite") || name.starts_with("tiller-sqlite") {
        SQLITE
    } else {
        OTHER
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

/// The aggregate `cpu` line of `/proc/stat`.
fn machine_ticks(stat: &str) -> Option<Machine> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied()? + v.get(4).copied().unwrap_or(0);
    let irq = v.get(5).copied().unwrap_or(0) + v.get(6).copied().unwrap_or(0);
    Some(Machine {
        busy: total - idle,
        irq,
        total,
    })
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
        let stat = "cpu  100 0 50 800 50 10 20 0 0 0\ncpu0 1 2 3\n";
        assert_eq!(
            machine_ticks(stat),
            Some(Machine {
                busy: 180,
                irq: 30,
                total: 1030
            })
        );
    }
}
