//! A chaos suite that converges.
//!
//! Seeded and reproducible: every choice comes from `StdRng`s seeded from one `u64` (one
//! stream for edits, one for faults, one for sync steps, per policy), so a seed gives the same
//! sequence of choices; the point where an in-process abort lands depends on timing (it is a
//! poll budget), and so, through it, can what later choices find on each side.
//!
//! Each round makes random edits on both sides through the emulators' in-process APIs
//! (creations, whole-record rewrites of the mapped fields, the same record on both sides,
//! archives, companies with people, people without e-mail, unmapped-field edits), arms random
//! faults ([`faults`]), then runs one or two steps: a sync, a sync aborted at a random await
//! (its lease then broken as an operator would), a webhook/notification delivery racing a
//! sync, third-party edits racing a sync, or a delivery of every change caught so far,
//! duplicated and out of order ([`deliver`]). The CLI variant ([`kill`], HubSpot only) runs
//! `connector sync` processes instead and `kill -9`s some of them.
//!
//! After the rounds, faults off, three quiet syncs (a create whose answer was lost waits one
//! run by design, so only the third must write nothing), then edits of unmapped fields and one more
//! sync. [`check`] then compares both sides record by record against the [`ledger`]:
//! duplicates, lost updates (the newest write as the policy decides), disagreements, archives
//! that did not travel, dangling id-maps, and writes in the third quiet sync or after
//! unmapped-only edits (echo writes).
//!
//! The ledger's rule per policy, from each record's newest hub edit `h` and newest app edit
//! `a` (by the emulators' modification times): most recent wins → the newer of the two (the
//! hub on an exact tie, as the engine documents); hub wins → `h` if it is newer than `a`, else
//! `h` or `a` (a conflict, or `a` made after `h` had travelled); app wins, symmetrically.
//! Where the app's timestamp of a record can move without an edit of its own (Xero: a part
//! carries its contact's `UpdatedDateUTC`), most recent also allows `a` when `h` was made while
//! `a` was still pending and the app record was modified after `h`
//! ([`app::AppSide::touched_after`]). Most recent compares the records' times as the engine
//! reads them when it decides, and an unmapped-field edit moves them without a mapped change:
//! the ledger keeps those made during the rounds ([`ledger::Touch`]), and in a conflict a side
//! touched past the other side's edit (the hub also at an exact tie) may win it.
//!
//! The app side is a trait ([`app::AppSide`]): HubSpot ([`hubspot_side`]) and Xero
//! ([`xero_side`], whose restrictions and timestamp rule are named there); [`run_app`] picks
//! one. `CHAOS_DEBUG_KEY=<ledger key>` prints what both sides and the store hold for that key
//! when the checks run.

pub mod abort;
pub mod app;
pub mod check;
pub mod deliver;
pub mod edits;
pub mod faults;
pub mod hubspot_side;
pub mod kill;
pub mod ledger;
pub mod run;
pub mod world;
pub mod xero_side;

pub use app::{App, AppSide};
pub use check::Figures;
pub use run::{ChaosOptions, PolicyReport, Report, policy_name, run, run_app};
