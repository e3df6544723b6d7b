//! The engine benchmark of `engine.rs` with mimalloc as the global allocator instead of the
//! system's (glibc's malloc/free are a large part of the engine's profile): the same cases,
//! the same options (`ENGINE_BENCH_QUICK`, `ENGINE_BENCH_CPU`, criterion's filters), so the
//! two figures compare the allocators alone.

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

criterion::criterion_main!(common::benches);
