//! Random edits on both sides through the emulators' public (third-party) APIs, each one
//! recorded in the [`Ledger`].
//!
//! Every edit draws the same number of values from the generator whatever the state, so one
//! seed gives one sequence of choices; what a choice does can still depend on how far an
//! aborted sync got (e.g. whether the other side has the record yet).

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use sync_core::domain::Side;

use crate::app::NewRecord;
use crate::ledger::{Edit, Entry, Kind, Ledger, Touch};
use crate::world::{GROUP, Sides};

/// What the edits of a round did.
#[derive(Clone, Copy, Debug, Default)]
pub struct EditCounts {
    /// Mapped-field edits and creations recorded in the ledger.
    pub edits: u64,
    /// Edits of unmapped fields (which must cause no write).
    pub unmapped: u64,
    /// Archives.
    pub archives: u64,
}

/// The record's current id on `side`: the cached one if it still stands, else the active
/// record holding its key (the lowest id when there are several).
pub fn locate(sides: &Sides, entry: &mut Entry, side: Side) -> Option<String> {
    if let Some(id) = entry.id(side)
        && sides
            .get(side, entry.kind, id)
            .is_some_and(|r| !sides.is_archived(side, &r))
    {
        return Some(id.to_owned());
    }
    let mut found: Vec<String> = sides
        .all(side, entry.kind)
        .iter()
        .filter(|r| !sides.is_archived(side, r))
        .filter(|r| sides.key_of(side, entry.kind, r).as_deref() == Some(entry.key.as_str()))
        .filter_map(|r| sides.id_of(side, entry.kind, r))
        .collect();
    found.sort();
    let id = found.into_iter().next()?;
    match side {
        Side::Hub => entry.hub_id = Some(id.clone()),
        Side::App => entry.app_id = Some(id.clone()),
    }
    Some(id)
}

fn side_of(hub: bool) -> Side {
    if hub { Side::Hub } else { Side::App }
}

/// Creates a record on `side` (a person optionally in `company`, with or without e-mail).
pub fn create(
    sides: &Sides,
    ledger: &mut Ledger,
    side: Side,
    kind: Kind,
    company: Option<usize>,
    with_email: bool,
) -> Option<usize> {
    let seq = ledger.next_seq();
    let key = match kind {
        Kind::Person => format!("R{seq}"),
        Kind::Company => format!("Co{seq}"),
    };
    // Where the app holds only so many people per company (Xero: 5 contact persons), a person
    // drawn into a full company (every person ever created in it counts: an archive may not
    // have travelled yet) is created without one.
    let company = company.filter(|c| {
        sides.app.people_per_company().is_none_or(|max| {
            ledger
                .entries
                .iter()
                .filter(|e| e.company == Some(*c))
                .count()
                < max
        })
    });
    // Where the app needs it (Xero: a contact person's only stable key), a person in a company
    // always has an e-mail; the draw is made all the same.
    let with_email =
        with_email || (company.is_some() && sides.app.company_person_email_restriction().is_some());
    let email = (kind == Kind::Person && with_email).then(|| format!("r{seq}@chaos.example"));
    let company_id = match company {
        Some(c) => Some(locate(sides, &mut ledger.entries[c], side)?),
        None => None,
    };
    let fields = sides.app.fields_of_edit(kind, seq);
    let stored = match side {
        Side::Hub => {
            let mut body = fields.hub_patch(sides.app.hub_paths(kind));
            body[kind.hub_key()] = json!(key);
            if let Some(email) = &email {
                body["email"] = json!({ "address": email });
            }
            if let Some(id) = &company_id {
                body["organization_id"] = json!(id);
            }
            sides.connec.seed(GROUP, kind.collection(), body)
        }
        Side::App => sides.app.create(
            kind,
            NewRecord {
                key: &key,
                email: email.as_deref(),
                company: company_id.as_deref(),
                fields: &fields,
            },
        )?,
    };
    let id = sides.id_of(side, kind, &stored);
    let at = sides.stamp(side, kind, &stored)?;
    ledger.entries.push(Entry {
        key,
        kind,
        origin: side,
        email,
        company,
        hub_id: if side == Side::Hub { id.clone() } else { None },
        app_id: if side == Side::App { id } else { None },
        edits: vec![Edit {
            seq,
            side,
            at,
            other_pending: false,
            fields,
        }],
        touches: Vec::new(),
        archived: false,
        archive_certain: false,
    });
    Some(ledger.entries.len() - 1)
}

/// Rewrites every edited mapped field of record `index` on `side`; `false` if that side does
/// not hold it (yet).
pub fn update(sides: &Sides, ledger: &mut Ledger, index: usize, side: Side) -> bool {
    let seq = ledger.next_seq();
    let entry = &mut ledger.entries[index];
    let kind = entry.kind;
    let Some(id) = locate(sides, entry, side) else {
        return false;
    };
    let Some(before) = sides.get(side, kind, &id) else {
        return false;
    };
    // A conflict in the making: the other side's newest edit has not reached this side.
    let other = if side == Side::Hub {
        Side::App
    } else {
        Side::Hub
    };
    let other_pending = entry
        .edits
        .iter()
        .filter(|e| e.side == other)
        .max_by_key(|e| (e.at, e.seq))
        .is_some_and(|newest| sides.fields_of(side, kind, &before) != newest.fields);
    let fields = sides.app.fields_of_edit(kind, seq);
    let stored = match side {
        Side::Hub => sides.connec.update(
            GROUP,
            kind.collection(),
            &id,
            fields.hub_patch(sides.app.hub_paths(kind)),
        ),
        Side::App => sides.app.update(kind, &id, &fields),
    };
    let Some(at) = stored.as_ref().and_then(|s| sides.stamp(side, kind, s)) else {
        return false;
    };
    entry.edits.push(Edit {
        seq,
        side,
        at,
        other_pending,
        fields,
    });
    true
}

/// Edits a field no mapping names; `false` if that side does not hold the record. During the
/// rounds it is recorded as a [`Touch`] when it moved the record's modification time.
pub fn unmapped(sides: &Sides, ledger: &mut Ledger, index: usize, side: Side) -> bool {
    let seq = ledger.next_seq();
    let quiet = ledger.quiet;
    let entry = &mut ledger.entries[index];
    let kind = entry.kind;
    let Some(id) = locate(sides, entry, side) else {
        return false;
    };
    let stamp = |record: Option<Value>| record.and_then(|r| sides.stamp(side, kind, &r));
    let before = stamp(sides.get(side, kind, &id));
    let done = match side {
        Side::Hub => sides
            .connec
            .update(
                GROUP,
                kind.collection(),
                &id,
                json!({ "description": format!("note {seq}") }),
            )
            .is_some(),
        Side::App => sides.app.unmapped(kind, &id, seq),
    };
    if done
        && !quiet
        && let Some(at) = stamp(sides.get(side, kind, &id))
        && before != Some(at)
    {
        entry.touches.push(Touch { seq, side, at });
    }
    done
}

/// Archives record `index` on `side` (Connec!: `status: INACTIVE`). Where the app side does
/// not archive such a record (see [`crate::app::AppSide::archive_restriction`]), it is
/// archived in Connec! instead. Where archiving a company archives its people (Xero), they
/// are marked archived too.
pub fn archive(sides: &Sides, ledger: &mut Ledger, index: usize, side: Side) -> bool {
    let entry = &mut ledger.entries[index];
    let kind = entry.kind;
    let Some(id) = locate(sides, entry, side) else {
        return false;
    };
    let restricted = side == Side::App
        && sides
            .get(side, kind, &id)
            .is_some_and(|r| sides.app.archive_restriction(kind, &r).is_some());
    if restricted {
        return archive(sides, ledger, index, Side::Hub);
    }
    // The company's contact in the app, and the people it holds as its own there now: those go
    // with it for certain; a person not yet there may still become a person of its own (its
    // company resolves to none once archived), so its archive is not certain.
    let cascade = kind == Kind::Company && sides.app.archive_takes_people();
    let company_app = match side {
        _ if !cascade => None,
        Side::App => Some(id.clone()),
        Side::Hub => locate(sides, &mut ledger.entries[index], Side::App),
    };
    let done = match side {
        Side::Hub => sides
            .connec
            .update(
                GROUP,
                kind.collection(),
                &id,
                json!({ "status": "INACTIVE" }),
            )
            .is_some(),
        Side::App => sides.app.archive(kind, &id),
    };
    let entry = &mut ledger.entries[index];
    entry.archived |= done;
    entry.archive_certain |= done;
    if done && cascade {
        for n in 0..ledger.entries.len() {
            if ledger.entries[n].company != Some(index) || ledger.entries[n].archived {
                continue;
            }
            let held = company_app.is_some()
                && locate(sides, &mut ledger.entries[n], Side::App)
                    .and_then(|p| sides.get(Side::App, Kind::Person, &p))
                    .and_then(|p| sides.app.company_of(&p))
                    == company_app;
            let person = &mut ledger.entries[n];
            person.archived = true;
            person.archive_certain = held;
        }
    }
    done
}

/// Makes `count` random edits.
pub fn random_edits(
    rng: &mut StdRng,
    sides: &Sides,
    ledger: &mut Ledger,
    count: u32,
) -> EditCounts {
    let mut done = EditCounts::default();
    for _ in 0..count {
        let op = rng.random_range(0..100u32);
        let side = side_of(rng.random_bool(0.5));
        let pick = rng.random_range(0..1_000_000usize);
        let extra = rng.random_range(0..1_000u32);
        let before = ledger.edits();
        let active = ledger.active(None);
        let chosen = (!active.is_empty()).then(|| active[pick % active.len()]);
        match (op, chosen) {
            (0..20, _) | (_, None) => {
                let companies = ledger.active(Some(Kind::Company));
                let company = (extra % 3 == 0 && !companies.is_empty())
                    .then(|| companies[pick % companies.len()]);
                let company =
                    company.filter(|c| locate(sides, &mut ledger.entries[*c], side).is_some());
                create(sides, ledger, side, Kind::Person, company, extra % 10 < 7);
            }
            (20..30, _) => {
                if let Some(company) = create(sides, ledger, side, Kind::Company, None, false) {
                    for n in 0..=(extra % 3) {
                        create(sides, ledger, side, Kind::Person, Some(company), n != 1);
                    }
                }
            }
            (30..70, Some(i)) => {
                if !update(sides, ledger, i, side) {
                    update(sides, ledger, i, ledger.entries[i].origin);
                }
            }
            (70..85, Some(i)) => {
                // The same record on both sides, in a random order.
                let first = side;
                let second = if side == Side::Hub {
                    Side::App
                } else {
                    Side::Hub
                };
                update(sides, ledger, i, first);
                update(sides, ledger, i, second);
            }
            (85..93, Some(i)) => {
                done.archives += u64::from(archive(sides, ledger, i, side));
            }
            (_, Some(i)) => {
                done.unmapped += u64::from(unmapped(sides, ledger, i, side));
            }
        }
        done.edits += (ledger.edits() - before) as u64;
    }
    done
}
