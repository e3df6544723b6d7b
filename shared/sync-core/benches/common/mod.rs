//! The engine benchmark's body, shared by `engine` (the system allocator) and
//! `engine_mimalloc` (mimalloc as the global allocator).

use std::sync::Arc;
use std::time::{Duration, Instant};

use connec::testing::Fakes;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use serde_json::json;
use sync_core::domain::{Direction, DirectionFlags, EntityName, Run, RunStatus};
use sync_core::engine::{EngineConfig, RunOptions, SyncEngine};
use sync_core::ports::SyncStore;
use sync_core::testing::SAMPLE_GROUP;

/// The fakes and an engine over them.
struct World {
    fakes: Fakes,
    engine: SyncEngine,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl World {
    fn over(fakes: Fakes, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        let engine = SyncEngine::new(
            Arc::new(fakes.store.clone()),
            Arc::new(fakes.hub.clone()),
            Arc::new(fakes.app.clone()),
            Arc::new(fakes.clock.clone()),
            EngineConfig {
                overlap: Duration::from_secs(1),
                ..EngineConfig::default()
            },
        );
        Self {
            fakes,
            engine,
            runtime,
        }
    }

    fn sync(&self, full: bool) -> Run {
        self.fakes.clock.advance_secs(5);
        let options = RunOptions {
            full,
            ..RunOptions::default()
        };
        let run = self
            .runtime
            .block_on(self.engine.sync(&self.fakes.org.id, options))
            .expect("the sync runs");
        self.fakes.clock.advance_secs(5);
        assert_eq!(run.status, RunStatus::Success, "{run:?}");
        run
    }

    /// Turns the pairs `off` off (both directions), the others on.
    fn only(&mut self, off: &[&str]) {
        self.fakes.org.entity_flags = off
            .iter()
            .map(|entity| {
                let flags = DirectionFlags {
                    to_hub: false,
                    to_app: false,
                };
                (EntityName::new(*entity), flags)
            })
            .collect();
        self.runtime
            .block_on(self.fakes.store.put_organization(&self.fakes.org))
            .expect("org saved");
    }

    /// Syncs what is seeded so far except the pairs `later`, twice (the second settles the
    /// id write-backs), so that the timed run moves only the later pairs.
    fn settle_except(&mut self, later: &[&str]) {
        self.only(later);
        self.sync(false);
        self.sync(false);
        self.only(&[]);
    }

    fn seed(&self, collection: &str, record: serde_json::Value) -> String {
        self.fakes
            .hub
            .seed(SAMPLE_GROUP, collection, record)
            .as_str()
            .to_owned()
    }
}

fn organizations(world: &World, n: usize) -> Vec<String> {
    (0..n.max(1))
        .map(|i| {
            world.seed(
                "organizations",
                json!({
                    "name": format!("Company {i}"),
                    "industry": if i % 2 == 0 { "Software" } else { "Retail" },
                    "website": { "url": format!("https://company{i}.example") },
                }),
            )
        })
        .collect()
}

/// N people naming N/10 organizations, the organizations synced.
fn people_world(n: usize, runtime: &Arc<tokio::runtime::Runtime>) -> World {
    let mut world = World::over(Fakes::sample(), runtime.clone());
    let orgs = organizations(&world, n / 10);
    world.settle_except(&["people"]);
    for i in 0..n {
        world.seed(
            "people",
            json!({
                "first_name": format!("First{i}"),
                "last_name": format!("Last{i}"),
                "email": { "address": format!("Person{i}@Company{}.example", i % orgs.len()) },
                "job_title": "Engineer",
                "organization_id": orgs[i % orgs.len()],
            }),
        );
    }
    world
}

/// N invoices of 3 lines each naming N/10 items and N/10 organizations, those synced.
fn invoices_world(n: usize, runtime: &Arc<tokio::runtime::Runtime>) -> World {
    let mut world = World::over(Fakes::sample_accounting(), runtime.clone());
    let orgs = organizations(&world, n / 10);
    let items: Vec<String> = (0..(n / 10).max(1))
        .map(|i| {
            world.seed(
                "items",
                json!({
                    "name": format!("Item {i}"),
                    "code": format!("SKU-{i}"),
                    "sale_price": { "net_amount": 10 + i % 90 },
                }),
            )
        })
        .collect();
    world.settle_except(&["invoices"]);
    for i in 0..n {
        let lines: Vec<serde_json::Value> = (0..3)
            .map(|k| {
                json!({
                    "description": format!("line {k} of invoice {i}"),
                    "quantity": k + 1,
                    "unit_price": { "net_amount": 12.5 },
                    "item_id": items[(3 * i + k) % items.len()],
                })
            })
            .collect();
        world.seed(
            "invoices",
            json!({
                "transaction_number": format!("INV-{i:06}"),
                "transaction_date": "2026-11-30T00:00:00Z",
                "amount": { "currency": "EUR" },
                "organization_id": orgs[i % orgs.len()],
                "lines": lines,
            }),
        );
    }
    world
}

fn created(run: &Run, entity: &str) -> u64 {
    run.counts_for(entity, Direction::ToApp).created
}

fn sizes() -> Vec<usize> {
    if quick() {
        vec![10_000]
    } else {
        vec![10_000, 100_000]
    }
}

fn quick() -> bool {
    std::env::var_os("ENGINE_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime"),
    )
}

/// Times `iters` runs of `timed`, each on a fresh world from `setup` (untimed), and checks
/// each run with `check` (untimed).
fn timed_runs(
    iters: u64,
    setup: impl Fn() -> World,
    timed: impl Fn(&World) -> Run,
    check: impl Fn(&World, &Run),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let world = setup();
        let run = if cpu_clock() {
            let started = thread_cpu_time();
            let run = timed(&world);
            total += thread_cpu_time().saturating_sub(started);
            run
        } else {
            let started = Instant::now();
            let run = timed(&world);
            total += started.elapsed();
            run
        };
        check(&world, &run);
    }
    total
}

/// `ENGINE_BENCH_CPU=1`: time the runs by this thread's CPU time instead of the wall clock,
/// for a machine shared with other work (the runtime runs everything on this thread).
fn cpu_clock() -> bool {
    std::env::var_os("ENGINE_BENCH_CPU").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The CPU time this thread has run, from Linux's `/proc/thread-self/schedstat` (its first
/// field, in nanoseconds).
fn thread_cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("ENGINE_BENCH_CPU needs Linux's /proc/thread-self/schedstat");
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat starts with the run time in nanoseconds");
    Duration::from_nanos(nanos)
}

fn engine(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("people");
    group.sampling_mode(SamplingMode::Flat);
    for &n in &sizes() {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("initial", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                timed_runs(
                    iters,
                    || people_world(n, &rt),
                    |world| world.sync(false),
                    |world, run| {
                        assert_eq!(created(run, "people"), n as u64, "{run:?}");
                        assert_eq!(world.fakes.app.counts().created, (n + n / 10) as u64);
                    },
                )
            });
        });
        group.bench_with_input(BenchmarkId::new("resync", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                timed_runs(
                    iters,
                    || {
                        let world = people_world(n, &rt);
                        world.sync(false);
                        world.sync(false);
                        world.fakes.app.reset_counts();
                        world.fakes.hub.reset_counts();
                        world
                    },
                    |world| world.sync(true),
                    |world, run| {
                        let skipped = run.counts_for("people", Direction::ToApp).skipped
                            + run.counts_for("people", Direction::ToHub).skipped;
                        assert_eq!(skipped, 2 * n as u64, "{run:?}");
                        assert_eq!(world.fakes.app.counts().calls, 0);
                        assert_eq!(world.fakes.hub.counts().calls, 0);
                    },
                )
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("invoices");
    group.sampling_mode(SamplingMode::Flat);
    for &n in &sizes() {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("initial", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                timed_runs(
                    iters,
                    || invoices_world(n, &rt),
                    |world| world.sync(false),
                    |world, run| {
                        assert_eq!(created(run, "invoices"), n as u64, "{run:?}");
                        // App ids count up across entities: companies, products, then bills.
                        let first = 2 * (n / 10).max(1) + 1;
                        let bill = world.fakes.app.get("bills", &first.to_string());
                        let bill = bill.expect("the first bill exists");
                        let lines = bill["properties"]["lines"].as_array().expect("lines");
                        assert_eq!(lines.len(), 3, "{bill}");
                        assert!(lines.iter().all(|l| l["product"].is_string()), "{bill}");
                    },
                )
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    let c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .configure_from_args();
    if quick() {
        c.measurement_time(Duration::from_secs(1))
    } else {
        c.measurement_time(Duration::from_secs(5))
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = engine
}
