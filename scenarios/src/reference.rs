//! The language reference's tables, generated from the catalog so that the
//! book lists every call, builtin and constant the resolver knows: the
//! calls and builtins from [`crate::calls`] (their signatures, who may make
//! them, [`crate::calls::CALL_DOCS`] and [`crate::calls::BUILTIN_DOCS`]),
//! the constants from `sim_kernel::abi` and the errnos from
//! `sim_kernel::errno`. The book includes the three files in
//! [`FILES`] (`book/src/reference-*.md`); a test fails when they are stale,
//! and `KSIM_BLESS=1 cargo test -p scenarios --lib reference` rewrites them.

use crate::calls::{BUILTINS, BUILTIN_DOCS, CALLS, CALL_DOCS};
use crate::lang::catalog::{CallCtx, Ret};
use sim_kernel::abi;
use sim_kernel::errno::Errno;
use sim_kernel::mm::Signal;
use std::fmt::Write as _;

/// A generated file's name under `book/src/`, and its generator.
pub type File = (&'static str, fn() -> String);

/// The generated files.
pub const FILES: &[File] = &[
    ("reference-calls.md", calls_markdown),
    ("reference-builtins.md", builtins_markdown),
    ("reference-constants.md", constants_markdown),
];

const HEADER: &str = "<!-- Generated from the call catalog (scenarios/src/reference.rs): do not edit. \
                      Regenerate with KSIM_BLESS=1 cargo test -p scenarios --lib reference -->\n";

/// A table cell: `|` escaped (in code spans too, as GitHub's and mdBook's
/// tables need).
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The calls table: call, who may make it, what it returns, notes.
pub fn calls_markdown() -> String {
    let mut out = String::from(HEADER);
    out.push_str("\n| call | who | returns | notes |\n|---|---|---|---|\n");
    for (sig, doc) in CALLS.iter().zip(CALL_DOCS) {
        let who = match sig.ctx {
            CallCtx::User => "user",
            CallCtx::Kernel => "kernel",
            CallCtx::Any => "any",
        };
        let returns = match sig.ret {
            Ret::One => cell(doc.returns),
            Ret::Pair => format!("{}, bound with `(A, B) =` (an errno binds both)", cell(doc.returns)),
        };
        let _ = writeln!(out, "| `{}` | {who} | {returns} | {} |", cell(sig.usage), cell(doc.notes));
    }
    out
}

/// The builtins table, with `blocked(ACTOR)` (which the resolver handles
/// itself).
pub fn builtins_markdown() -> String {
    let mut out = String::from(HEADER);
    out.push_str("\n| builtin | result |\n|---|---|\n");
    for (b, doc) in BUILTINS.iter().zip(BUILTIN_DOCS) {
        let _ = writeln!(out, "| `{}` | {} |", cell(b.usage), cell(doc));
    }
    out.push_str(
        "| `blocked(ACTOR)` | 1 if the actor was blocked when its phase ended, else 0; only in `finally` and `check` |\n",
    );
    out
}

/// The constant groups, in the order printed: a title, the radix its
/// values are shown in, and the name prefixes (or whole names) it takes.
/// A constant no group takes goes to "other".
const GROUPS: &[(&str, u32, &[&str])] = &[
    ("open flags", 8, &["O_", "FASYNC"]),
    ("fcntl", 10, &["F_", "FD_"]),
    ("eventfd", 8, &["EFD_"]),
    ("poll", 16, &["POLL"]),
    ("lseek", 10, &["SEEK_"]),
    ("ioctl", 16, &["FIO"]),
    ("pipes", 10, &["PIPE_BUF"]),
    ("signals, as integers (for `sigcount`)", 10, &["SIGPIPE"]),
    ("notification queues (`include/uapi/linux/watch_queue.h`)", 16, &["IOC_WATCH_QUEUE_", "WATCH_"]),
    ("mmap", 10, &["PROT_"]),
    ("userfaultfd (`include/uapi/linux/userfaultfd.h`)", 16, &["UFFD", "_UFFDIO_"]),
    ("uverbs commands (`include/uapi/rdma/ib_user_verbs.h`)", 10, &["IB_USER_VERBS_"]),
    ("verbs events and access flags (`include/rdma/ib_verbs.h`)", 16, &["IBV_"]),
    ("FUSE and CUSE (`include/uapi/linux/fuse.h`)", 10, &["FUSE_", "CUSE_"]),
];

fn group_of(name: &str) -> usize {
    GROUPS.iter().position(|(_, _, prefixes)| prefixes.iter().any(|p| name.starts_with(p))).unwrap_or(GROUPS.len())
}

/// `v` as the group shows its values: digits alone below 10, and
/// anything that does not fit in 32 bits in hexadecimal.
fn show(v: u64, radix: u32) -> String {
    match radix {
        _ if v < 10 => v.to_string(),
        _ if v > u32::MAX as u64 => format!("0x{v:X}"),
        8 => format!("0o{v:o}"),
        16 => format!("0x{v:X}"),
        _ => v.to_string(),
    }
}

/// The constants: the integer constants by group, the result tokens
/// (signals), and every errno with its number and meaning.
pub fn constants_markdown() -> String {
    let mut out = String::from(HEADER);
    let all: Vec<(&str, u64)> = abi::CONSTANTS
        .iter()
        .chain(abi::MM_CONSTANTS)
        .chain(sim_kernel::uverbs::abi::CONSTANTS)
        .chain(sim_kernel::fuse::abi::CONSTANTS)
        .copied()
        .collect();
    out.push_str("\n| group | names and values |\n|---|---|\n");
    for (g, title) in GROUPS.iter().map(|(t, _, _)| *t).chain(["other"]).enumerate() {
        let radix = GROUPS.get(g).map_or(10, |(_, r, _)| *r);
        let items: Vec<String> =
            all.iter().filter(|(n, _)| group_of(n) == g).map(|(n, v)| format!("`{n}` {}", show(*v, radix))).collect();
        if !items.is_empty() {
            let _ = writeln!(out, "| {} | {} |", cell(title), items.join(", "));
        }
    }
    let sigs: Vec<String> = Signal::ALL.iter().map(|s| format!("`{}` ({})", s.name(), s.number())).collect();
    let _ = writeln!(out, "| signals (result tokens, not integers) | {} |", sigs.join(", "));
    out.push_str(
        "\nThe errnos (`sim-kernel/src/errno.rs`), with Linux's numbers; `EWOULDBLOCK` is `EAGAIN` \
         and `ENOTSUP` is `EOPNOTSUPP`:\n\n| errno | number | meaning |\n|---|---|---|\n",
    );
    for e in Errno::ALL {
        let _ = writeln!(out, "| `{}` | {} | {} |", e.name(), e.code(), cell(e.description()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::catalog::Catalog;

    #[test]
    fn every_call_and_builtin_has_its_text() {
        assert_eq!(CALLS.len(), CALL_DOCS.len());
        assert_eq!(BUILTINS.len(), BUILTIN_DOCS.len());
        for (sig, doc) in CALLS.iter().zip(CALL_DOCS) {
            assert!(!doc.returns.is_empty() && !doc.notes.is_empty(), "{}", sig.name);
            assert!(sig.usage.contains(&format!("{}(", sig.name)), "{}", sig.usage);
        }
        let calls = calls_markdown();
        for name in ["pipe", "pipe2", "sigcount", "watch_add", "watch_remove", "post_notification"] {
            assert!(calls.contains(&format!("{name}(")), "{name}");
        }
        assert!(calls.contains("| `(R, W) = pipe()` | user | a pair: the read end's fd and the write end's fd, bound with `(A, B) =` (an errno binds both) | "), "{calls}");
        assert!(calls.contains("| `watch_source()` | kernel | "), "{calls}");
        assert!(builtins_markdown().contains("| `note(TYPE, SUBTYPE, ID, PAYLOAD[, FLAGS])` | "));
    }

    #[test]
    fn every_constant_the_resolver_knows_is_listed() {
        let text = constants_markdown();
        for name in crate::calls::KsimCatalog.constant_names() {
            assert!(text.contains(&format!("`{name}` ")), "{name} is missing");
        }
        assert!(text.contains("`WATCH_META_LOSS_NOTIFICATION` 1, `WATCH_INFO_LENGTH` 0x7F"), "{text}");
        assert!(text.contains("`ULLONG_MAX` 0xFFFFFFFFFFFFFFFF |"), "{text}");
        assert!(text.contains("| `EHWPOISON` | 133 | Memory page has hardware error |"), "{text}");
        // Every integer constant is in a named group.
        let other: Vec<&str> = abi::CONSTANTS
            .iter()
            .chain(abi::MM_CONSTANTS)
            .map(|(n, _)| *n)
            .filter(|n| group_of(n) == GROUPS.len())
            .collect();
        assert_eq!(other, ["RLIMIT_NOFILE", "PAGE_SIZE", "ULLONG_MAX"]);
    }

    /// The book's copies are what the catalog generates now.
    #[test]
    fn the_books_reference_tables_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
        let bless = std::env::var_os("KSIM_BLESS").is_some();
        let mut stale = Vec::new();
        for (file, generate) in FILES {
            let path = dir.join(file);
            let want = generate();
            if bless {
                std::fs::write(&path, &want).expect("write the book's table");
                continue;
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            if have != want {
                stale.push(format!("book/src/{file}:\n{}", diff(&have, &want)));
            }
        }
        assert!(
            stale.is_empty(),
            "the book's reference tables are stale; regenerate them with \
             `KSIM_BLESS=1 cargo test -p scenarios --lib reference`:\n{}",
            stale.join("\n")
        );
    }

    /// The lines only one side has, as `-` (tracked) and `+` (generated).
    fn diff(have: &str, want: &str) -> String {
        let h: Vec<&str> = have.lines().collect();
        let w: Vec<&str> = want.lines().collect();
        let mut out = String::new();
        for l in h.iter().filter(|l| !w.contains(l)) {
            let _ = writeln!(out, "- {l}");
        }
        for l in w.iter().filter(|l| !h.contains(l)) {
            let _ = writeln!(out, "+ {l}");
        }
        out
    }
}
