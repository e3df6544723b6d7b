//! What `connector bench sync` measured: one [`PhaseReport`] per phase, printed as a README
//! table row or as one JSON object.

use serde::Serialize;

/// The figures of one measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// `initial`, `no-change (1st)`, `no-change (2nd)`, `changed`.
    pub phase: String,
    /// `embedded` or `dynamodb`.
    pub store: String,
    /// People in the data set.
    pub people: usize,
    /// Organizations in the data set.
    pub organizations: usize,
    /// Records the phase had to consider (the whole data set: people + organizations).
    pub records: usize,
    /// Records the engine read (from both sides, as its run counters tell).
    pub records_read: u64,
    /// Records written (created, updated, merged or archived, both sides).
    pub records_written: u64,
    /// Wall time of the sync, seconds.
    pub seconds: f64,
    /// HTTP read calls (both APIs).
    pub reads: u64,
    /// The fewest reads the page and batch sizes allow for this phase.
    pub min_reads: u64,
    /// HTTP write calls (both APIs).
    pub writes: u64,
    /// The fewest writes the batch sizes allow for this phase.
    pub min_writes: u64,
    /// Calls per route (`METHOD /pattern`, both APIs), to see where reads above the minimum go.
    pub by_route: Vec<(String, u64)>,
    /// Store operations ([`sync_core::ports::SyncStore`] calls).
    pub store_ops: u64,
    /// This process's resident memory when the phase started, KiB.
    pub rss_start_kib: u64,
    /// This process's peak resident memory during the phase (VmHWM, reset at the start), KiB.
    pub rss_peak_kib: u64,
    /// CPU time (user + system) this process (engine, store, clients) spent in the phase, s.
    pub engine_cpu_s: f64,
    /// CPU time the emulators' process spent in the phase, s.
    pub emulator_cpu_s: f64,
}

impl PhaseReport {
    /// Records considered per second.
    #[must_use]
    pub fn records_per_second(&self) -> f64 {
        self.records as f64 / self.seconds.max(1e-9)
    }

    /// Peak memory above the start of the phase, KiB.
    #[must_use]
    pub fn rss_growth_kib(&self) -> u64 {
        self.rss_peak_kib.saturating_sub(self.rss_start_kib)
    }

    /// The header of [`Self::row`]'s table.
    #[must_use]
    pub fn header() -> String {
        "| phase | store | N people (+ N/10 orgs) | records/s | wall time | HTTP reads (min, x) | \
         HTTP writes (min, x) | store ops/record | peak RSS (growth) | CPU s engine / emulators |\n\
         |---|---|---|---|---|---|---|---|---|---|"
            .to_owned()
    }

    /// One Markdown table row, for the README.
    #[must_use]
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {:.2} s | {} ({}, {}) | {} ({}, {}) | {:.3} | {:.1} MiB ({:+.1} MiB) | {:.2} / {:.2} |",
            self.phase,
            self.store,
            thousands(self.people as u64),
            thousands(self.records_per_second().round() as u64),
            self.seconds,
            thousands(self.reads),
            thousands(self.min_reads),
            ratio(self.reads, self.min_reads),
            thousands(self.writes),
            thousands(self.min_writes),
            ratio(self.writes, self.min_writes),
            self.store_ops as f64 / self.records.max(1) as f64,
            self.rss_peak_kib as f64 / 1024.0,
            self.rss_growth_kib() as f64 / 1024.0,
            self.engine_cpu_s,
            self.emulator_cpu_s,
        )
    }

    /// The calls per route, one line each, indented.
    #[must_use]
    pub fn routes(&self) -> String {
        self.by_route
            .iter()
            .map(|(route, n)| format!("    {n:>9}  {route}\n"))
            .collect()
    }

    /// One JSON object on one line.
    #[must_use]
    pub fn json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["records_per_second"] = serde_json::json!(self.records_per_second().round());
        value["rss_growth_kib"] = serde_json::json!(self.rss_growth_kib());
        value["by_route"] = self
            .by_route
            .iter()
            .map(|(route, n)| (route.clone(), serde_json::json!(n)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        value.to_string()
    }
}

/// `x` against its minimum: `1.000x`, or `-` when the minimum is zero (and so is `x`), or
/// `+x` when something happened where nothing had to.
fn ratio(x: u64, min: u64) -> String {
    match (x, min) {
        (0, 0) => "-".to_owned(),
        (x, 0) => format!("+{x}"),
        (x, min) => format!("{:.3}x", x as f64 / min as f64),
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PhaseReport {
        PhaseReport {
            phase: "initial".into(),
            store: "embedded".into(),
            people: 10_000,
            organizations: 1_000,
            records: 11_000,
            records_read: 11_000,
            records_written: 11_000,
            seconds: 0.5,
            reads: 112,
            min_reads: 112,
            writes: 110,
            min_writes: 100,
            by_route: vec![("GET /api/v2/{group_id}/{collection}".into(), 110)],
            store_ops: 550,
            rss_start_kib: 10_240,
            rss_peak_kib: 12_288,
            engine_cpu_s: 0.4,
            emulator_cpu_s: 0.25,
        }
    }

    #[test]
    fn a_row_holds_every_figure_in_the_header_order() {
        let row = report().row();
        assert_eq!(
            row,
            "| initial | embedded | 10,000 | 22,000 | 0.50 s | 112 (112, 1.000x) | \
             110 (100, 1.100x) | 0.050 | 12.0 MiB (+2.0 MiB) | 0.40 / 0.25 |"
        );
        let columns = |s: &str| s.matches('|').count();
        let header = PhaseReport::header();
        assert_eq!(columns(&row), columns(header.lines().next().unwrap()));
    }

    #[test]
    fn the_json_object_is_one_line_with_the_derived_figures() {
        let json = report().json();
        assert!(!json.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["records_per_second"], 22_000.0);
        assert_eq!(value["rss_growth_kib"], 2048);
        assert_eq!(
            value["by_route"]["GET /api/v2/{group_id}/{collection}"],
            110
        );
    }

    #[test]
    fn nothing_against_a_zero_minimum_is_a_dash_and_something_is_flagged() {
        assert_eq!(ratio(0, 0), "-");
        assert_eq!(ratio(3, 0), "+3");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
