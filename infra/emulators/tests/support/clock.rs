//! Waiting for the next millisecond of real time: the emulators stamp writes with real time,
//! and writes within one millisecond tie (as the real APIs' do), so a test that needs a later
//! write to carry a later stamp than an earlier *other* record waits for it.

#![allow(dead_code)]

/// Returns once real time is past the millisecond it was called in.
pub fn next_ms() {
    let t = chrono::Utc::now().timestamp_millis();
    while chrono::Utc::now().timestamp_millis() <= t {
        std::thread::yield_now();
    }
}
