//! The engine benchmark: records per second through the whole engine (describe, id-map
//! lookups, reference translation, mapping, hashing, `decide`, match-before-create, write
//! planning, writes and their outcomes) over the in-memory fakes: no network, no disk, one
//! core (a current-thread runtime).
//!
//! - `people/initial/N`: the first sync hub -> app of N people, each naming one of N/10
//!   organizations (synced before, untimed), so every person's reference is translated.
//! - `invoices/initial/N`: the first sync hub -> app of N invoices, each with 3 lines naming
//!   items and an invoiced organization (N/10 items and N/10 organizations synced before).
//! - `people/resync/N`: a full re-read (`RunOptions::full`) of both sides after the initial
//!   sync, nothing changed: every record is read, mapped and hashed on both sides and
//!   skipped as unchanged. Counted per person, each read from both sides.
//!
//! Seeding and the syncs of the referenced entities are set up outside the timed part; each
//! timed run is checked afterwards (N records created, or none written).
//!
//! `cargo bench -p sync-core --bench engine` runs 10k and 100k; `ENGINE_BENCH_QUICK=1` only
//! 10k with fewer samples; `ENGINE_BENCH_CPU=1` times the runs by the thread's CPU time (Linux)
//! rather than the wall clock, on a machine shared with other work. Criterion's own arguments
//! work too (a filter: `-- people/initial`). `--bench engine_mimalloc` runs the same with
//! mimalloc as the global allocator.

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

mod common;

criterion::criterion_main!(common::benches);
