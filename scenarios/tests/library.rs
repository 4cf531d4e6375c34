//! The shipped scenarios as tests.
//!
//! - Every conformance scenario in `scenarios/library/` parses (`ksim
//!   check`) and passes under `ksim run` for seeds 0..16; each cites the
//!   Linux test it follows (`# follows:` lines), and there are at least 25.
//! - Every deliberately wrong scenario in `scenarios/tests/fail/` fails the
//!   way its header says: `# expect-exit: N` (1: a violated expectation,
//!   deadlock, leak or use-after-free; 2: a malformed file), one or more
//!   `# expect-output: SUBSTRING` lines, and an optional `# seed: N` (default
//!   0) for the scenarios that re-introduce a historical bug.
//! - Determinism: the same file and seed give byte-identical output, and the
//!   `replay:` schedule a failure prints reproduces the same violation.

use scenarios::cli::{cmd_check, cmd_replay, cmd_run, load};
use std::path::{Path, PathBuf};

/// Seeds every library scenario is run with.
const LIBRARY_SEEDS: std::ops::Range<u64> = 0..16;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.scn` files of a directory under the crate, sorted by name.
fn scn_files(dir: &str) -> Vec<PathBuf> {
    let dir = manifest_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    files
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The value of every `# KEY: VALUE` header comment line, in order.
fn header_values(src: &str, key: &str) -> Vec<String> {
    let prefix = format!("# {key}:");
    src.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_string()).collect()
}

fn run(path: &str, seed: u64, verbose: bool) -> (i32, String) {
    let mut out = String::new();
    let code = cmd_run(&mut out, &[path.to_string()], Some(seed), verbose);
    (code, out)
}

#[test]
fn library_has_enough_scenarios_each_citing_its_test() {
    let files = scn_files("library");
    assert!(files.len() >= 25, "scenarios/library has {} scenarios; at least 25 are required", files.len());
    for f in &files {
        let src = read(f);
        let follows = header_values(&src, "follows");
        assert!(!follows.is_empty(), "{} has no `# follows:` line citing the Linux test it follows", f.display());
        assert!(follows.iter().all(|v| !v.is_empty()), "{} has an empty `# follows:` line", f.display());
    }
}

#[test]
fn library_scenarios_check_and_pass_for_every_seed() {
    let mut failures = Vec::new();
    for f in scn_files("library") {
        let path = path_str(&f);
        let mut out = String::new();
        let code = cmd_check(&mut out, std::slice::from_ref(&path));
        if code != 0 {
            failures.push(format!("ksim check {path}: exit {code}\n{out}"));
            continue;
        }
        for seed in LIBRARY_SEEDS {
            let (code, out) = run(&path, seed, false);
            if code != 0 {
                failures.push(format!("ksim run {path} --seed {seed}: exit {code}\n{out}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} library run(s) failed:\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn fail_scenarios_fail_as_their_headers_say() {
    let files = scn_files("tests/fail");
    assert!(!files.is_empty(), "scenarios/tests/fail has no scenarios");
    let mut failures = Vec::new();
    for f in &files {
        let path = path_str(f);
        let src = read(f);
        let exit: Vec<String> = header_values(&src, "expect-exit");
        assert_eq!(exit.len(), 1, "{path}: needs exactly one `# expect-exit: N` line");
        let want: i32 = exit[0].parse().unwrap_or_else(|_| panic!("{path}: bad expect-exit `{}`", exit[0]));
        let seed: u64 = match header_values(&src, "seed").first() {
            Some(s) => s.parse().unwrap_or_else(|_| panic!("{path}: bad seed `{s}`")),
            None => 0,
        };
        let expected = header_values(&src, "expect-output");
        assert!(!expected.is_empty(), "{path}: needs at least one `# expect-output:` line");
        let (code, out) = run(&path, seed, false);
        if code != want {
            failures.push(format!("ksim run {path} --seed {seed}: exit {code}, expected {want}\n{out}"));
            continue;
        }
        for s in &expected {
            if !out.contains(s.as_str()) {
                failures.push(format!("ksim run {path} --seed {seed}: output lacks `{s}`\n{out}"));
            }
        }
        // A malformed file is malformed for `ksim check` too; a file that
        // fails only when run must parse.
        let mut chk = String::new();
        let check_code = cmd_check(&mut chk, std::slice::from_ref(&path));
        let want_check = if want == 2 { 2 } else { 0 };
        if check_code != want_check {
            failures.push(format!("ksim check {path}: exit {check_code}, expected {want_check}\n{chk}"));
        }
    }
    assert!(failures.is_empty(), "{} fail scenario(s) misbehaved:\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn bug_scenarios_cover_the_eventfd_bugs() {
    // Each eventfd historical bug is shown failing by a file in tests/fail.
    let mut sources = String::new();
    for f in scn_files("tests/fail") {
        sources.push_str(&read(&f));
    }
    for name in ["eventfd_semaphore_underflow", "eventfd_ctx_freed_with_file", "eventfd_install_before_init"] {
        assert!(sim_kernel::bugs::lookup(name).is_some(), "bug `{name}` is not in the registry");
        assert!(
            sources.contains(&format!("config bug={name}")),
            "no scenario in scenarios/tests/fail re-introduces bug `{name}`"
        );
    }
}

#[test]
fn same_seed_gives_identical_output() {
    let path = path_str(&manifest_dir().join("library/race_prefix_sum.scn"));
    for seed in [0, 3, 11] {
        let (c1, o1) = run(&path, seed, true);
        let (c2, o2) = run(&path, seed, true);
        assert_eq!(c1, 0, "{o1}");
        assert_eq!((c1, &o1), (c2, &o2), "seed {seed}: two runs differ");
    }
    // Different seeds explore different schedules of the same file.
    let outs: std::collections::BTreeSet<String> = (0..16).map(|s| run(&path, s, false).1).collect();
    assert!(outs.len() > 1, "16 seeds all gave the same schedule");
}

/// The violation lines of a report: everything between `FAIL` and
/// `replay:`.
fn violations(out: &str) -> String {
    let start = out.find("\nFAIL\n").unwrap_or_else(|| panic!("no FAIL in:\n{out}"));
    let rest = &out[start + "\nFAIL\n".len()..];
    let end = rest.find("replay: ").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn replay_reproduces_a_failure() {
    let f = manifest_dir().join("tests/fail/bug_ctx_freed_with_file.scn");
    let path = path_str(&f);
    let seed: u64 = header_values(&read(&f), "seed").first().map_or(0, |s| s.parse().expect("seed"));
    let (code, out) = run(&path, seed, false);
    assert_eq!(code, 1, "{out}");
    let line = out.lines().find(|l| l.starts_with("replay: ksim replay ")).unwrap_or_else(|| panic!("{out}"));
    let schedule = line.rsplit(' ').next().expect("schedule");
    assert!(schedule.starts_with("v1:") && schedule.len() > 3, "a race schedule with choices: {line}");
    let mut rout = String::new();
    let rcode = cmd_replay(&mut rout, &path, schedule, false);
    assert_eq!(rcode, 1, "{rout}");
    assert_eq!(violations(&out), violations(&rout), "replay of {schedule} differs:\n{out}\n---\n{rout}");
    assert!(violations(&rout).contains("use-after-free"), "{rout}");
    assert!(rout.contains(&format!("replay: ksim replay {path} {schedule}")), "{rout}");
}

/// Whether `text` calls `name(` as a whole word (not as the tail of a longer
/// name: `read(` inside `eventfd_read(` does not count).
fn calls(text: &str, name: &str) -> bool {
    let needle = format!("{name}(");
    text.match_indices(&needle)
        .any(|(i, _)| !text[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// The calls of the foundation issue (eventfd and the VFS); other
/// subsystems' calls are covered by their own scenarios.
const FOUNDATION_CALLS: &[&str] = &[
    "eventfd",
    "eventfd_read",
    "eventfd_write",
    "read",
    "write",
    "pread",
    "pwrite",
    "close",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "lseek",
    "poll",
    "ioctl",
    "exec",
    "fd_path",
    "setrlimit",
    "now_ns",
    "sleep_ns",
    "eventfd_ctx_fdget",
    "eventfd_signal",
    "eventfd_ctx_put",
    "eventfd_wait_add",
    "eventfd_ctx_remove_wait_queue",
    "eventfd_wait_keys",
];

#[test]
fn every_foundation_call_is_used_by_the_library() {
    let mut text = String::new();
    for f in scn_files("library") {
        let path = path_str(&f);
        if let Err(e) = load(&path) {
            panic!("{path} does not load:\n{e}");
        }
        // Statements only: comment text does not count as a use.
        for l in read(&f).lines() {
            text.push_str(l.split('#').next().unwrap_or(""));
            text.push('\n');
        }
    }
    for &name in FOUNDATION_CALLS {
        assert!(scenarios::calls::CALLS.iter().any(|c| c.name == name), "`{name}` is not in the call catalog");
        assert!(calls(&text, name), "no library scenario calls `{name}`");
    }
    for cmd in ["F_GETFD", "F_SETFD", "F_GETFL", "F_SETFL", "F_DUPFD", "F_DUPFD_CLOEXEC"] {
        assert!(text.lines().any(|l| calls(l, "fcntl") && l.contains(&format!(", {cmd}"))), "no fcntl {cmd}");
    }
    for cmd in ["FIONREAD", "FIOCLEX", "FIONCLEX", "FIONBIO"] {
        assert!(text.lines().any(|l| calls(l, "ioctl") && l.contains(&format!(", {cmd}"))), "no ioctl {cmd}");
    }
    for timeout in [", 0)", ", -1)", ", 10)"] {
        assert!(text.lines().any(|l| calls(l, "poll") && l.contains(timeout)), "no poll with timeout {timeout}");
    }
}
