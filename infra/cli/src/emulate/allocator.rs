//! The process's global allocator, chosen once per process by its command: mimalloc for
//! `connector emulate`, glibc's for every other command.
//!
//! The emulators build and drop a tree of small `serde_json` values per record rendered or
//! parsed: glibc's malloc/free (without fastbins, as `main` sets it) took about two thirds of
//! their samples in `bench sync --records 100000`, mimalloc's about a third, and the emulators'
//! CPU time of the initial sync fell by about 30% (the no-change pass's by 45%), their peak RSS
//! unchanged (about 450 MiB, the seeded records). The other commands keep glibc: mimalloc held
//! 40 MiB more resident at 100k records in the engine's process, whose peak RSS the bench
//! measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use mimalloc::MiMalloc;

#[global_allocator]
static ALLOCATOR: ByCommand = ByCommand;

const UNDECIDED: u8 = 0;
const SYSTEM: u8 = 1;
const MIMALLOC: u8 = 2;

/// Decided at the first allocation (before `main`: the runtime allocates first) and never
/// changed after, so every block is freed by the allocator that gave it.
static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// Routes every call to mimalloc or to glibc's allocator, by [`CHOICE`].
struct ByCommand;

impl ByCommand {
    // Always inlined: it runs on every allocation (the profile showed it as a call of its own).
    #[inline(always)]
    fn mimalloc() -> bool {
        match CHOICE.load(Ordering::Relaxed) {
            MIMALLOC => true,
            SYSTEM => false,
            _ => Self::decide(),
        }
    }

    /// The first allocation's choice (see [`CHOICE`]).
    #[cold]
    fn decide() -> bool {
        let choice = if runs_emulate() { MIMALLOC } else { SYSTEM };
        // Only the main thread exists this early; any thread deciding decides alike.
        CHOICE.store(choice, Ordering::Relaxed);
        choice == MIMALLOC
    }
}

// SAFETY: each method forwards to one allocator, the same one for the whole process (see
// `CHOICE`), with the caller's layout and pointer unchanged.
unsafe impl GlobalAlloc for ByCommand {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        unsafe {
            if Self::mimalloc() {
                MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        unsafe {
            if Self::mimalloc() {
                MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from the same allocator (the choice never changes).
        unsafe {
            if Self::mimalloc() {
                MiMalloc.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from the same allocator (the choice never changes).
        unsafe {
            if Self::mimalloc() {
                MiMalloc.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}

/// Whether this process is `connector emulate`: its first argument that is not a flag (the
/// only global flag, `--log-json`, takes no value). Read from `/proc/self/cmdline` with
/// libc's calls into a stack buffer, as nothing may allocate here; without `/proc`, no.
fn runs_emulate() -> bool {
    let mut buf = [0u8; 512];
    let len = read_cmdline(&mut buf);
    command_of(&buf[..len]) == Some(b"emulate".as_slice())
}

/// The start of `/proc/self/cmdline` in `buf`; its length (0 when unreadable).
fn read_cmdline(buf: &mut [u8]) -> usize {
    // SAFETY: a NUL-terminated path; `read` writes at most `buf.len()` bytes into `buf`.
    unsafe {
        let fd = libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return 0;
        }
        let mut len = 0;
        while len < buf.len() {
            let n = libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len);
            if n <= 0 {
                break;
            }
            len += n as usize;
        }
        libc::close(fd);
        len
    }
}

/// The subcommand in a NUL-terminated command line: its first argument after the program
/// that does not start with `-`.
fn command_of(cmdline: &[u8]) -> Option<&[u8]> {
    // Each argument ends with a NUL: the last one leaves no empty argument after it.
    let args = cmdline.strip_suffix(b"\0").unwrap_or(cmdline);
    args.split(|b| *b == 0)
        .skip(1)
        .find(|arg| !arg.starts_with(b"-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_the_first_argument_that_is_not_a_flag() {
        assert_eq!(
            command_of(b"connector\0emulate\0--connec-port\08081\0"),
            Some(b"emulate".as_slice())
        );
        assert_eq!(
            command_of(b"/bin/connector\0--log-json\0emulate\0"),
            Some(b"emulate".as_slice())
        );
        assert_eq!(
            command_of(b"connector\0bench\0sync\0--records\0emulate\0"),
            Some(b"bench".as_slice())
        );
        // A command line longer than the buffer is cut without its last NUL.
        assert_eq!(
            command_of(b"connector\0emulate"),
            Some(b"emulate".as_slice())
        );
        assert_eq!(command_of(b"connector\0"), None);
        assert_eq!(command_of(b""), None);
    }
}
