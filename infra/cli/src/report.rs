//! Human-readable summaries of runs, id-maps and records.

use std::fmt::Write;

use sync_core::domain::{Direction, IdMap, Run, Winner};

/// A run as a table: counts per entity and direction, then conflicts and errors.
pub fn run_summary(title: &str, run: &Run) -> String {
    let mut out = String::new();
    let duration = run
        .finished_at
        .map(|end| end.epoch_millis() - run.started_at.epoch_millis())
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "{title}: {} in {duration} ms{}",
        run.status.as_str(),
        if run.first_sync { " (first sync)" } else { "" }
    );
    let _ = writeln!(
        out,
        "  {:<14} {:<11} {:>7} {:>7} {:>6} {:>7} {:>9} {:>6} {:>8} {:>8}",
        "entity",
        "direction",
        "created",
        "updated",
        "merged",
        "skipped",
        "conflicts",
        "failed",
        "deferred",
        "archived"
    );
    for (key, c) in &run.counts {
        let _ = writeln!(
            out,
            "  {:<14} {:<11} {:>7} {:>7} {:>6} {:>7} {:>9} {:>6} {:>8} {:>8}",
            key.entity.as_str(),
            key.direction.label(),
            c.created,
            c.updated,
            c.merged,
            c.skipped,
            c.conflicts,
            c.failed,
            c.deferred,
            c.archived
        );
    }
    for conflict in &run.conflicts {
        let winner = match conflict.winner {
            Winner::Hub => "Connec! version kept, pushed to the app",
            Winner::App => "app version kept, pushed to Connec!",
        };
        let _ = writeln!(
            out,
            "  conflict on {} {} <-> {}: hub changed {}, app changed {}; policy {:?}: {winner}",
            conflict.entity,
            conflict.hub_id,
            conflict.app_id,
            conflict.hub_updated_at,
            conflict.app_updated_at,
            conflict.policy
        );
    }
    for error in &run.errors {
        let _ = writeln!(out, "  error: {error}");
    }
    out
}

/// Id-maps as a table.
pub fn idmap_table(maps: &[IdMap]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<38} {:<10} {:<8} {:<24} last error",
        "entity", "hub id", "app id", "state", "last push"
    );
    for map in maps {
        let state = if map.inactive {
            "inactive"
        } else if map.is_linked() {
            "linked"
        } else {
            "pending"
        };
        let last_push = map
            .last_push_to_app
            .max(map.last_push_to_hub)
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<14} {:<38} {:<10} {:<8} {:<24} {}",
            map.entity.as_str(),
            map.hub_id.as_ref().map(|i| i.as_str()).unwrap_or("-"),
            map.app_id.as_ref().map(|i| i.as_str()).unwrap_or("-"),
            state,
            last_push,
            map.last_error.as_deref().unwrap_or("")
        );
    }
    out
}

/// One direction's label for progress bars.
pub fn phase_label(entity: &str, direction: Direction) -> String {
    format!("{entity} {}", direction.label())
}
