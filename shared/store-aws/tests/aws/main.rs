//! The AWS adapters against moto (a local AWS emulator) over real HTTP, with the real SDK
//! clients. One moto server per test process (see `support`); every test has its own table,
//! bus and secrets prefix.

mod bus;
mod dedupe;
mod linking_tests;
mod orgs;
mod store;
mod support;
