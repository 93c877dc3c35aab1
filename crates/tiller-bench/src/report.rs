//! Markdown for stdout, so a run's figures paste straight into BENCHMARKS.md.

use std::io::{self, Write};

use crate::{load::Outcome, outbox::Run};

/// A count as a float for rates and ratios.
#[expect(
    clippy::cast_precision_loss,
    reason = "request and row counts stay far below 2^52"
)]
pub fn f(n: u64) -> f64 {
    n as f64
}

fn ms(us: u64) -> f64 {
    f(us) / 1000.0
}

/// One row of the throughput/latency table.
pub struct Row<'a> {
    pub label: &'a str,
    pub outcome: &'a Outcome,
}

/// The throughput and latency of each row, then `first / last` as ratios when there are
/// exactly two rows (Tiller then the baseline).
pub fn throughput_table(
    out: &mut impl Write,
    unit: &str,
    clients: usize,
    rows: &[Row<'_>],
) -> io::Result<()> {
    writeln!(
        out,
        "| target | clients | {unit} ok | errors | {unit}/s | p50 ms | p99 ms | max ms |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in rows {
        let o = r.outcome;
        let h = &o.latency_us;
        writeln!(
            out,
            "| {} | {clients} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.label,
            o.ok,
            o.errors,
            o.per_second(),
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        )?;
    }
    if let [tiller, base] = rows {
        let (t, b) = (&tiller.outcome.latency_us, &base.outcome.latency_us);
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
        writeln!(
            out,
            "| **ratio Tiller / baseline** | | | | **{:.3}** | {:.1}× | {:.1}× | {:.1}× |",
            ratio(tiller.outcome.per_second(), base.outcome.per_second()),
            ratio(ms(t.value_at_quantile(0.50)), ms(b.value_at_quantile(0.50))),
            ratio(ms(t.value_at_quantile(0.99)), ms(b.value_at_quantile(0.99))),
            ratio(ms(t.max()), ms(b.max())),
        )?;
    }
    writeln!(out)
}

/// Where the CPU went in each measured window, in cores.
pub fn cpu_table(out: &mut impl Write, rows: &[Row<'_>]) -> io::Result<()> {
    writeln!(
        out,
        "| CPU, in cores | server runtime | SQLite threads (busiest one) | load generator | \
         other threads | kernel irq+softirq | other processes | machine busy |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"));
    for r in rows {
        let c = &r.outcome.cpu;
        writeln!(
            out,
            "| {} | {:.2} | {:.2} ({:.2}) | {:.2} | {:.2} | {} | {} | {} of {} |",
            r.label,
            c.server,
            c.sqlite,
            c.sqlite_busiest,
            c.client,
            c.other_threads,
            opt(c.machine_irq),
            opt(c.other_processes()),
            opt(c.machine_busy),
            opt(c.machine_cores),
        )?;
    }
    writeln!(out)
}

/// The first failure of each row, if any, so an error count is never unexplained.
pub fn errors(out: &mut impl Write, rows: &[Row<'_>]) -> io::Result<()> {
    for r in rows {
        if let Some(e) = &r.outcome.first_error {
            writeln!(out, "First error ({}): `{e}`\n", r.label)?;
        }
    }
    Ok(())
}

/// One run of the webhook scenario.
pub struct DeliveryRow<'a> {
    pub label: &'a str,
    pub run: &'a Run,
}

/// Deliveries, their rate and hand-over → arrival latency, then `first / last` as ratios
/// when there are exactly two rows (Tiller then the raw-POST baseline).
pub fn delivery_table(out: &mut impl Write, rows: &[DeliveryRow<'_>]) -> io::Result<()> {
    writeln!(
        out,
        "| target | deliveries | arrived | duplicates | out of order | errors | wall s | \
         deliveries/s | p50 ms | p99 ms | max ms |"
    )?;
    writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for r in rows {
        let o = r.run;
        let h = &o.latency_us;
        writeln!(
            out,
            "| {} | {} | {}{} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.label,
            o.expected,
            o.delivered,
            if o.timed_out { " (timed out)" } else { "" },
            o.duplicates + o.unknown,
            o.out_of_order
                .map_or_else(|| "n/a".to_owned(), |n| n.to_string()),
            o.errors,
            o.seconds,
            o.per_second(),
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        )?;
    }
    if let [tiller, base] = rows {
        let (t, b) = (&tiller.run.latency_us, &base.run.latency_us);
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
        writeln!(
            out,
            "| **ratio Tiller / raw POSTs** | | | | | | | **{:.3}** | {:.1}× | {:.1}× | {:.1}× |",
            ratio(tiller.run.per_second(), base.run.per_second()),
            ratio(ms(t.value_at_quantile(0.50)), ms(b.value_at_quantile(0.50))),
            ratio(ms(t.value_at_quantile(0.99)), ms(b.value_at_quantile(0.99))),
            ratio(ms(t.max()), ms(b.max())),
        )?;
    }
    writeln!(out)
}

/// Where the CPU went in each run, in CPU-seconds per 10,000 deliveries (cores in
/// parentheses; for SQLite also the busiest connection thread, the writer here, in cores).
pub fn delivery_cpu_table(out: &mut impl Write, rows: &[DeliveryRow<'_>]) -> io::Result<()> {
    writeln!(
        out,
        "| CPU-s per 10,000 deliveries (cores) | server runtime | SQLite threads (busiest one) \
         | receiver | bench client | other threads | kernel irq+softirq | other processes | \
         machine busy |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in rows {
        let (o, c) = (r.run, &r.run.cpu);
        let cell = |cores: f64| format!("{:.3} ({cores:.2})", o.per_10k(cores));
        let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), cell);
        writeln!(
            out,
            "| {} | {} | {}; busiest {:.2} | {} | {} | {} | {} | {} | {} |",
            r.label,
            cell(c.server),
            cell(c.sqlite),
            c.sqlite_busiest,
            cell(c.receiver),
            cell(c.client),
            cell(c.other_threads),
            opt(c.machine_irq),
            opt(c.other_processes()),
            opt(c.machine_busy),
        )?;
    }
    writeln!(out)
}
