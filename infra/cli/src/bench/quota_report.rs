//! What `connector bench quota` measured, and the share of the allowance it is.
//!
//! Windows are counted from the sync's start `t0`: window `i` is `[t0 + i·S, t0 + (i+1)·S)`.
//! The app allows `X` calls in any rolling window of `S` seconds, so at most `X` in each of
//! these. The allowance is `X` per whole window the sync spanned (`k = ⌊elapsed / S⌋`); the
//! last, partial window is left out, its calls and its allowance both, since a sync that ends
//! part-way through a window could not have used all of it. Utilisation is the calls the app
//! accepted in the whole windows over that allowance.

use std::time::Duration;

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct QuotaReport {
    /// The app's name.
    pub app: &'static str,
    /// People synced.
    pub people: usize,
    /// Organizations synced.
    pub organizations: usize,
    /// Calls allowed per window.
    pub limit: u64,
    /// The window.
    pub window: Duration,
    /// Wall time of the sync.
    pub elapsed: Duration,
    /// Calls the app received (accepted and refused).
    pub calls: u64,
    /// Calls the app answered 429.
    pub refused: u64,
    /// Calls the app accepted in each whole window, in order.
    pub per_window: Vec<u64>,
    /// Calls it accepted in the last, partial window.
    pub in_partial: u64,
    /// Calls the app received by route (`"METHOD /route"`), refused ones included.
    pub by_route: Vec<(String, u64)>,
}

impl QuotaReport {
    /// Builds the report from cumulative accepted-call counts sampled at the end of each whole
    /// window (`at_boundaries[i]`: accepted from `t0` to `t0 + (i+1)·S`) and at the end.
    #[allow(clippy::too_many_arguments)]
    pub fn from_samples(
        app: &'static str,
        people: usize,
        organizations: usize,
        limit: u64,
        window: Duration,
        elapsed: Duration,
        at_boundaries: &[u64],
        (calls, refused, accepted): (u64, u64, u64),
    ) -> Self {
        let whole = (elapsed.as_nanos() / window.as_nanos().max(1)) as usize;
        let boundaries = &at_boundaries[..whole.min(at_boundaries.len())];
        let mut per_window = Vec::with_capacity(boundaries.len());
        let mut before = 0;
        for &cumulative in boundaries {
            per_window.push(cumulative.saturating_sub(before));
            before = cumulative;
        }
        Self {
            app,
            people,
            organizations,
            limit,
            window,
            elapsed,
            calls,
            refused,
            per_window,
            in_partial: accepted.saturating_sub(before),
            by_route: Vec::new(),
        }
    }

    /// Calls the app accepted.
    pub fn accepted(&self) -> u64 {
        self.per_window.iter().sum::<u64>() + self.in_partial
    }

    /// The allowance of the whole windows.
    pub fn allowance(&self) -> u64 {
        self.limit * self.per_window.len() as u64
    }

    /// Accepted calls in the whole windows over their allowance, in percent (`None` when the
    /// sync ended inside its first window).
    pub fn utilisation(&self) -> Option<f64> {
        let allowance = self.allowance();
        (allowance > 0)
            .then(|| 100.0 * self.per_window.iter().sum::<u64>() as f64 / allowance as f64)
    }

    /// Printable summary (one `name  value` line each; the CLI test reads them).
    pub fn render(&self) -> String {
        let mut text = self.summary();
        for (route, n) in &self.by_route {
            text.push_str(&format!("  {n:>6}  {route}\n"));
        }
        text
    }

    fn summary(&self) -> String {
        let secs = self.window.as_secs_f64();
        let partial = self.elapsed.as_secs_f64() - secs * self.per_window.len() as f64;
        let utilisation = match self.utilisation() {
            Some(u) => format!("{u:.1} %"),
            None => "n/a (the sync ended inside its first window: raise --records)".into(),
        };
        let windows: Vec<String> = self.per_window.iter().map(u64::to_string).collect();
        format!(
            "initial sync of {} people + {} organizations (Connec! -> {}), {} limited to {} calls per {} s\n\
             app calls           {}\n\
             429 answers         {}\n\
             accepted calls      {}\n\
             elapsed             {:.2} s\n\
             whole windows       {} of {} s, then {:.2} s\n\
             allowance           {} calls ({} per window, whole windows only)\n\
             used in them        {} calls\n\
             utilisation         {}\n\
             calls per window    {} | then {} in the last {:.2} s\n\
             calls by route\n",
            self.people,
            self.organizations,
            self.app,
            self.app,
            self.limit,
            secs,
            self.calls,
            self.refused,
            self.accepted(),
            self.elapsed.as_secs_f64(),
            self.per_window.len(),
            secs,
            partial,
            self.allowance(),
            self.limit,
            self.per_window.iter().sum::<u64>(),
            utilisation,
            if windows.is_empty() {
                "-".into()
            } else {
                windows.join(" ")
            },
            self.in_partial,
            partial,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_last_window_is_left_out_of_calls_and_allowance() {
        let report = QuotaReport::from_samples(
            "HubSpot",
            10,
            1,
            100,
            Duration::from_secs(10),
            Duration::from_millis(32_500),
            // Sampled at 10, 20, 30 s (and a sample past the end is ignored).
            &[100, 195, 295, 330],
            (332, 2, 330),
        );
        assert_eq!(report.per_window, vec![100, 95, 100]);
        assert_eq!(report.in_partial, 35);
        assert_eq!(report.allowance(), 300);
        assert_eq!(report.accepted(), 330);
        let u = report.utilisation().unwrap();
        assert!((u - 98.333).abs() < 0.01, "{u}");
        let text = report.render();
        assert!(text.contains("429 answers         2\n"), "{text}");
        assert!(
            text.contains("calls per window    100 95 100 | then 35"),
            "{text}"
        );

        let short = QuotaReport::from_samples(
            "Xero",
            1,
            1,
            60,
            Duration::from_secs(60),
            Duration::from_secs(5),
            &[],
            (7, 0, 7),
        );
        assert_eq!(short.utilisation(), None);
        assert_eq!(short.in_partial, 7);
    }
}
