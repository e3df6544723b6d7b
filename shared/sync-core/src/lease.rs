//! Who holds a sync lease, and whether it is a process of this machine that no longer exists.
//!
//! The engine names lease owners `"{holder}/run-{uuid}"` or `"{holder}/realtime-{uuid}"`, where
//! the holder is [`crate::engine::process_holder`] (`pid:<pid>@<host>`) unless configured
//! otherwise. A local rerun that finds the lease taken reads the owner: when it names a process
//! of this host that has exited (killed, crashed), nobody can still be working under it, and
//! the rerun may break the lease instead of waiting for it to expire.
//!
//! The decision errs on the safe side: an owner in another format, of another host, or on a
//! system where processes cannot be inspected (anything but Linux, or Linux without `/proc`)
//! is never claimed gone. A recycled pid reads as running (the rerun waits, as before).
//! One case it cannot see: two processes in different pid namespaces (containers) that share a
//! host name and a database file. A run whose lease was broken by mistake loses it at its next
//! renewal and stops.

/// The process a lease owner names: `pid:<pid>@<host>`, optionally followed by `/<anything>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnerProcess<'a> {
    /// Process id.
    pub pid: u32,
    /// Host name, as the process saw it.
    pub host: &'a str,
}

/// Parses an owner into its process, or `None` if it is not in the `pid:<pid>@<host>[/...]`
/// format (a custom holder, or an owner written before holders were named).
#[must_use]
pub fn parse_owner(owner: &str) -> Option<OwnerProcess<'_>> {
    let rest = owner.strip_prefix("pid:")?;
    let (pid, rest) = rest.split_once('@')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = pid.parse().ok().filter(|&pid| pid > 0)?;
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return None;
    }
    Some(OwnerProcess { pid, host })
}

/// What the operating system says about a process id of this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// It exists (it may be another process that got the same pid).
    Running,
    /// It does not exist, or it is a zombie that has already exited.
    Gone,
    /// Cannot tell (no `/proc`, not Linux, or an unexpected error).
    Unknown,
}

/// What a rerun can tell about a lease's holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolderStatus {
    /// A process of this host that no longer exists: the lease can be broken.
    GoneLocalProcess {
        /// Its process id.
        pid: u32,
    },
    /// A process of this host that still exists.
    RunningLocalProcess {
        /// Its process id.
        pid: u32,
    },
    /// A process of another host.
    OtherHost,
    /// An owner in another format, or a process whose state cannot be read.
    Unknown,
}

/// Decides what `owner` is, given this host's name and a way to look processes up. Pure: the
/// probe is passed in (see [`probe_local_process`] and [`is_gone_local_process`]).
pub fn holder_status(
    owner: &str,
    local_host: &str,
    probe: impl FnOnce(u32) -> ProcessState,
) -> HolderStatus {
    let Some(process) = parse_owner(owner) else {
        return HolderStatus::Unknown;
    };
    if local_host.is_empty() || process.host != local_host {
        return HolderStatus::OtherHost;
    }
    match probe(process.pid) {
        ProcessState::Gone => HolderStatus::GoneLocalProcess { pid: process.pid },
        ProcessState::Running => HolderStatus::RunningLocalProcess { pid: process.pid },
        ProcessState::Unknown => HolderStatus::Unknown,
    }
}

/// The state letter of a `/proc/<pid>/stat` line (`R`, `S`, `Z`...). The command name in
/// parentheses may itself contain spaces and parentheses, so the state is read after the last
/// `)`.
#[must_use]
pub fn stat_state(stat: &str) -> Option<char> {
    let (_, after) = stat.rsplit_once(')')?;
    after.trim_start().chars().next()
}

/// Whether the process `pid` of this host exists. On Linux it reads `/proc/<pid>/stat`
/// (absent, or a zombie, means gone); elsewhere it answers [`ProcessState::Unknown`].
#[must_use]
pub fn probe_local_process(pid: u32) -> ProcessState {
    probe_impl(pid)
}

#[cfg(target_os = "linux")]
fn probe_impl(pid: u32) -> ProcessState {
    // Without a mounted /proc every pid would look absent: say nothing then.
    if !std::path::Path::new("/proc/self/stat").exists() {
        return ProcessState::Unknown;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat_state(&stat) {
            Some('Z' | 'X') => ProcessState::Gone,
            Some(_) => ProcessState::Running,
            None => ProcessState::Unknown,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ProcessState::Gone,
        Err(_) => ProcessState::Unknown,
    }
}

#[cfg(not(target_os = "linux"))]
fn probe_impl(_pid: u32) -> ProcessState {
    ProcessState::Unknown
}

/// This host's name, as [`crate::engine::process_holder`] writes it into lease owners.
#[must_use]
pub fn local_host() -> String {
    let holder = crate::engine::process_holder();
    parse_owner(&holder)
        .map(|p| p.host.to_owned())
        .unwrap_or_default()
}

/// Whether `owner` names a process of this host that no longer exists (so its lease can be
/// broken safely). Never true for another host, another format, or off Linux.
#[must_use]
pub fn is_gone_local_process(owner: &str) -> bool {
    matches!(
        holder_status(owner, &local_host(), probe_local_process),
        HolderStatus::GoneLocalProcess { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_parse_into_pid_and_host() {
        let cases: &[(&str, Option<(u32, &str)>)] = &[
            ("pid:4242@build-box/run-0b1c", Some((4242, "build-box"))),
            ("pid:7@h/realtime-9f", Some((7, "h"))),
            ("pid:7@h.example.internal", Some((7, "h.example.internal"))),
            ("pid:7@h/run-a/b", Some((7, "h"))),
            ("pid:4294967295@h/run-x", Some((u32::MAX, "h"))),
            ("pid:4294967296@h/run-x", None),
            ("pid:0@h/run-x", None),
            ("pid:-1@h/run-x", None),
            ("pid:+1@h/run-x", None),
            ("pid:12a@h/run-x", None),
            ("pid:@h/run-x", None),
            ("pid:12@/run-x", None),
            ("pid:12@", None),
            ("pid:12", None),
            ("pid:12@my host/run-x", None),
            ("PID:12@h/run-x", None),
            ("run-0b1c", None),
            ("worker-a", None),
            ("lambda:abc@h/run-x", None),
            ("", None),
        ];
        for (owner, expected) in cases {
            let parsed = parse_owner(owner).map(|p| (p.pid, p.host));
            assert_eq!(parsed, *expected, "owner `{owner}`");
        }
    }

    #[test]
    fn only_a_gone_process_of_this_host_is_claimed_gone() {
        use HolderStatus::{GoneLocalProcess, OtherHost, RunningLocalProcess, Unknown};
        use ProcessState::{Gone, Running, Unknown as Unreadable};
        // (owner, this host, what the process table says, verdict, process table consulted)
        let cases: &[(&str, &str, ProcessState, HolderStatus, bool)] = &[
            (
                "pid:42@box/run-1",
                "box",
                Gone,
                GoneLocalProcess { pid: 42 },
                true,
            ),
            (
                "pid:42@box/realtime-1",
                "box",
                Gone,
                GoneLocalProcess { pid: 42 },
                true,
            ),
            (
                "pid:42@box",
                "box",
                Gone,
                GoneLocalProcess { pid: 42 },
                true,
            ),
            (
                "pid:42@box/run-1",
                "box",
                Running,
                RunningLocalProcess { pid: 42 },
                true,
            ),
            ("pid:42@box/run-1", "box", Unreadable, Unknown, true),
            ("pid:42@other/run-1", "box", Gone, OtherHost, false),
            ("pid:42@Box/run-1", "box", Gone, OtherHost, false),
            ("pid:42@box.lan/run-1", "box", Gone, OtherHost, false),
            ("pid:42@box/run-1", "", Gone, OtherHost, false),
            ("run-1", "box", Gone, Unknown, false),
            ("worker-a", "box", Gone, Unknown, false),
            ("pid:x@box/run-1", "box", Gone, Unknown, false),
        ];
        for (owner, host, state, expected, probed) in cases {
            let mut asked = None;
            let status = holder_status(owner, host, |pid| {
                asked = Some(pid);
                *state
            });
            assert_eq!(status, *expected, "owner `{owner}` on host `{host}`");
            assert_eq!(asked.is_some(), *probed, "owner `{owner}` on host `{host}`");
            if *probed {
                assert_eq!(asked, Some(42));
            }
        }
    }

    #[test]
    fn the_state_letter_is_read_after_the_command_name() {
        let cases: &[(&str, Option<char>)] = &[
            ("1234 (connector) S 1 1234 1234 0 -1", Some('S')),
            ("1234 (connector) Z 1 1234", Some('Z')),
            ("1234 (a) b) R 1 1234", Some('R')),
            ("1234 (with space) X 1", Some('X')),
            ("1234 (connector)", None),
            ("garbage", None),
            ("", None),
        ];
        for (stat, expected) in cases {
            assert_eq!(stat_state(stat), *expected, "stat `{stat}`");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_this_process_runs_and_an_exited_child_is_gone() {
        assert_eq!(
            probe_local_process(std::process::id()),
            ProcessState::Running
        );
        let own = format!("{}/run-1", crate::engine::process_holder());
        assert!(!is_gone_local_process(&own));

        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` runs");
        let pid = child.id();
        child.wait().expect("child exits");
        // Reaped: its pid is free (a recycled pid would read as running, the safe answer).
        let state = probe_local_process(pid);
        assert!(
            matches!(state, ProcessState::Gone | ProcessState::Running),
            "{state:?}"
        );
        let owner = format!("pid:{pid}@{}/run-1", local_host());
        assert_eq!(is_gone_local_process(&owner), state == ProcessState::Gone);
        // Never for another host, whatever the pid.
        assert!(!is_gone_local_process(&format!(
            "pid:{pid}@not-{}/run-1",
            local_host()
        )));
    }
}
