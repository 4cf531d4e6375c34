//! The host kernel as an oracle (issue 6).
//!
//! - Every single-threaded scenario of `scenarios/library/` gives the same
//!   result for every call under the simulator and on the host kernel (`ksim
//!   compare`), except where the host cannot run it: those skips are printed
//!   with their reasons and counted, never hidden.
//! - Every multi-threaded library scenario satisfies its own expectations on
//!   the host (or is skipped, with a reason).
//! - The native child starts with only fds 0, 1 and 2; a call the host
//!   cannot make skips the scenario naming it, and `--require-native` makes
//!   that an error; a blocked actor is reported blocked (or deadlocked), not
//!   hung; a result that differs is reported call by call.
//! - The host's features decide the simulated machine of a comparison
//!   (protection keys, CAP_SYS_RESOURCE): an unpinned scenario agrees on
//!   any host, a pinned one runs where the host matches and is skipped,
//!   with the reason, where not; a ksim failure is never AGREE; a native
//!   run over its memory limit is stopped and labelled a documented
//!   divergence, from a registry the book's chapter matches.
//! - The conformance report covers every library scenario, by subsystem;
//!   `KSIM_BLESS=1` rewrites the book's table with it (test.sh regenerates
//!   it before building the book).

use scenarios::native::compare::{compare_file, compare_file_with, judge, Verdict, DIVERGENCES};
use scenarios::native::conformance::{conformance, markdown, subsystem};
use scenarios::native::{run_native, run_native_with, Status, MEMORY_LIMIT_HIT};
use scenarios::runner::{execute_logged, RunOptions};
use sim_kernel::sched::choose::SeededChooser;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ksim() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ksim"))
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn library() -> Vec<String> {
    let dir = manifest_dir().join("library");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/library")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .map(|p| p.to_str().expect("UTF-8").to_string())
        .collect();
    v.sort();
    v
}

/// A scenario written to a fresh temporary file.
fn scratch(name: &str, src: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ksim-native-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, src).expect("write scenario");
    p.to_str().expect("UTF-8").to_string()
}

#[test]
fn single_threaded_library_scenarios_agree_with_the_host() {
    let mut compared = 0;
    let mut skipped = Vec::new();
    let mut bad = Vec::new();
    for f in library() {
        let c = compare_file(ksim(), &f).expect("library scenarios load");
        if !c.single_threaded {
            continue;
        }
        match &c.verdict {
            Verdict::Agree => compared += 1,
            Verdict::Skipped(why) => skipped.push(format!("{f}: {why}")),
            Verdict::Disagree => {
                let mut s = format!("{f}:");
                for d in &c.disagreements {
                    s.push_str(&format!("\n  {d}"));
                }
                for p in &c.problems {
                    s.push_str(&format!("\n  {p}"));
                }
                bad.push(s);
            }
            Verdict::Error(e) => bad.push(format!("{f}: native run error: {e}")),
            Verdict::Fail => bad.push(format!("{f}: fails in ksim and on the host: {:?}", c.problems)),
            Verdict::Divergence(names) => skipped.push(format!("{f}: documented divergence {names:?}")),
        }
    }
    eprintln!("single-threaded scenarios: {compared} agree with the host, {} skipped on the host:", skipped.len());
    for s in &skipped {
        eprintln!("  skipped {s}");
    }
    assert!(bad.is_empty(), "ksim and the host kernel disagree:\n{}", bad.join("\n"));
    assert!(compared >= 20, "only {compared} single-threaded scenarios could be compared");
}

#[test]
fn multi_threaded_library_scenarios_hold_on_the_host() {
    let mut ran = 0;
    let mut bad = Vec::new();
    for f in library() {
        let prog = scenarios::cli::load(&f).expect("loads");
        if prog.actors.len() <= 1 {
            continue;
        }
        let r = run_native(ksim(), &f);
        match &r.status {
            Status::Passed => ran += 1,
            Status::Skipped(why) => eprintln!("  skipped {f}: {why}"),
            Status::Failed => bad.push(format!(
                "{f}: {}",
                r.violations.iter().map(|v| v.message.clone()).collect::<Vec<_>>().join("; ")
            )),
            Status::Error(e) => bad.push(format!("{f}: {e}")),
        }
    }
    assert!(bad.is_empty(), "multi-threaded scenarios fail on the host:\n{}", bad.join("\n"));
    assert!(ran >= 5, "only {ran} multi-threaded scenarios ran on the host");
}

#[test]
fn the_child_has_only_fds_0_1_2_and_a_fresh_limit() {
    let f = scratch(
        "fds.scn",
        "# follows: test\nsetup:\n  fd_path(3) => ENOENT\n  fd_path(4) => ENOENT\n  fcntl(0, F_GETFD) => ok\n  \
         fcntl(2, F_GETFD) => ok\n  a = eventfd(0, 0) => 3\n  dup(a) => 4\n  close(4)\n  close(a)\n",
    );
    let r = run_native(ksim(), &f);
    assert_eq!(r.status, Status::Passed, "{:?}", r.violations);
    assert_eq!(r.calls.len(), 8);
}

#[test]
fn a_call_the_host_cannot_make_skips_naming_it() {
    let f = manifest_dir().join("library/close_vs_signal.scn");
    let f = f.to_str().expect("UTF-8");
    let r = run_native(ksim(), f);
    match &r.status {
        Status::Skipped(why) => assert!(why.starts_with("eventfd_ctx_fdget (line 12)"), "{why}"),
        s => panic!("expected a skip, got {s:?}"),
    }
    assert!(r.calls.is_empty(), "nothing runs when a call has no host form");
    let out = Command::new(ksim()).args(["run", "--native", f]).output().expect("ksim runs");
    assert_eq!(out.status.code(), Some(0), "a skip is not a failure");
    assert!(String::from_utf8_lossy(&out.stdout).contains("SKIPPED: the host cannot run eventfd_ctx_fdget"));
    let out = Command::new(ksim()).args(["run", "--native", "--require-native", f]).output().expect("ksim runs");
    assert_eq!(out.status.code(), Some(1), "--require-native makes a skip an error");
    let out = Command::new(ksim()).args(["compare", "--require-native", f]).output().expect("ksim runs");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn blocked_actors_are_reported_not_hung() {
    let may = scratch(
        "may_block.scn",
        "setup:\n  efd = eventfd(0, 0)\n\nthread reader (may block):\n  r = eventfd_read(efd)\n\n\
         thread other:\n  x = eventfd(0, 0) => 4\n\nfinally:\n  close(efd)\n\n\
         check:\n  assert blocked(reader) && !blocked(other)\n  assert reader.r == unset\n",
    );
    let r = run_native(ksim(), &may);
    assert_eq!(r.status, Status::Passed, "{:?}", r.violations);
    assert_eq!(r.blocked, vec!["reader".to_string()]);
    // finally wakes it: then it is not blocked at the end.
    let woken = scratch(
        "woken.scn",
        "setup:\n  efd = eventfd(0, 0)\n\nthread reader (may block):\n  r = eventfd_read(efd)\n\n\
         finally:\n  eventfd_write(efd, 7)\n\ncheck:\n  assert !blocked(reader) && reader.r == 7\n",
    );
    let r = run_native(ksim(), &woken);
    assert_eq!(r.status, Status::Passed, "{:?}", r.violations);
    assert!(r.blocked.is_empty());
    let dead = scratch("dead.scn", "setup:\n  efd = eventfd(0, 0)\n\nthread reader:\n  r = eventfd_read(efd)\n");
    let r = run_native(ksim(), &dead);
    assert_eq!(r.status, Status::Failed);
    assert!(r.violations[0].message.contains("reader blocked in eventfd_read(efd)"), "{:?}", r.violations);
    // ksim finds the same deadlock: both fail alike, which is FAIL (a ksim
    // failure is never AGREE).
    let c = compare_file(ksim(), &dead).expect("loads");
    assert!(!c.sim_passed);
    assert_eq!(c.verdict, Verdict::Fail, "{:?}", c.problems);
}

#[test]
fn a_differing_result_is_reported_call_by_call() {
    // The simulator runs one file and the host another that differs in one
    // argument on line 3: the comparison names exactly that call.
    let a = scratch(
        "diff_a.scn",
        "setup:\n  efd = eventfd(0, EFD_NONBLOCK)\n  eventfd_write(efd, 5)\n  r = eventfd_read(efd)\n  close(efd)\n",
    );
    let b = scratch(
        "diff_b.scn",
        "setup:\n  efd = eventfd(0, EFD_NONBLOCK)\n  eventfd_write(efd, 6)\n  r = eventfd_read(efd)\n  close(efd)\n",
    );
    let prog = scenarios::cli::load(&a).expect("loads");
    let (ex, calls) = execute_logged(&prog, &a, &mut SeededChooser::new(0), RunOptions::default());
    assert_eq!(calls.len(), 4);
    let native = run_native(ksim(), &b);
    let sim_violations = ex.violations.iter().map(|v| (v.kind.name().to_string(), v.message.clone())).collect();
    let c = judge(&prog, &a, sim_violations, calls, native);
    assert_eq!(c.verdict, Verdict::Disagree);
    assert_eq!(c.disagreements.len(), 1, "{:?}", c.disagreements);
    let d = &c.disagreements[0];
    assert_eq!(
        (d.line, d.text.as_str(), d.sim.as_deref(), d.host.as_deref()),
        (4, "eventfd_read(efd)", Some("5"), Some("6"))
    );
    // And the same file agrees with itself.
    assert_eq!(compare_file(ksim(), &a).expect("loads").verdict, Verdict::Agree);
}

#[test]
fn exec_is_a_real_exec_that_resumes_where_it_was() {
    let f = scratch(
        "exec.scn",
        "setup:\n  a = eventfd(1, EFD_CLOEXEC) => 3\n  b = eventfd(2, 0) => 4\n  repeat 2:\n    x = dup(b)\n  \
         exec() => 0\n  fd_path(a) => ENOENT\n  eventfd_read(b) => 2\n  y = eventfd(0, 0) => 3\n\n\
         finally:\n  exec()\n  z = fcntl(x, F_GETFD)\n\ncheck:\n  assert x == 6 && z == 0\n",
    );
    let c = compare_file(ksim(), &f).expect("loads");
    assert_eq!(c.verdict, Verdict::Agree, "{:?} {:?}", c.disagreements, c.problems);
    assert_eq!(c.native.calls.len(), 10);
}

#[test]
fn conformance_report_covers_the_library_by_subsystem() {
    let files = library();
    let entries = conformance(ksim(), &files).expect("library loads");
    assert_eq!(entries.len(), files.len());
    for e in &entries {
        let prog = scenarios::cli::load(&e.cmp.file).expect("loads");
        assert_eq!(e.subsystem, subsystem(&e.cmp.file, &prog));
    }
    let table = markdown(&entries);
    let book = manifest_dir().join("../book/src/conformance-table.md");
    if std::env::var_os("KSIM_BLESS").is_some() {
        std::fs::write(&book, &table).expect("write the book's table");
        return;
    }
    let old = std::fs::read_to_string(&book).unwrap_or_default();
    if old != table {
        eprintln!(
            "book/src/conformance-table.md is not what `ksim conformance --markdown` prints now; \
             regenerate it with KSIM_BLESS=1 cargo test -p scenarios --test native (or test.sh does)"
        );
    }
    assert!(table.contains("| **all** |"));
}

/// A multi-threaded scenario that fails under ksim is never AGREE, even
/// when the host satisfies it: `now_ns()` is ksim's virtual clock (0 here:
/// nobody slept) and CLOCK_MONOTONIC since the start on the host.
#[test]
fn a_ksim_failure_is_never_agree() {
    let f = scratch(
        "ksim_fails.scn",
        "thread a:\n  t = now_ns()\n\nthread b:\n  e = eventfd(0, 0)\n\ncheck:\n  assert a.t > 0\n",
    );
    let c = compare_file(ksim(), &f).expect("loads");
    assert!(!c.single_threaded);
    assert!(!c.sim_passed);
    assert_eq!(c.native.status, Status::Passed);
    assert_eq!(c.verdict, Verdict::Disagree, "{:?}", c.problems);
    assert!(c.problems.iter().any(|p| p.contains("ksim does not satisfy")), "{:?}", c.problems);
    let out = Command::new(ksim()).args(["compare", &f]).output().expect("ksim runs");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("DISAGREE"));
    // Both sides failing alike is FAIL, not AGREE, and exits 1.
    let both = scratch(
        "both_fail.scn",
        "thread a:\n  x = eventfd(0, 0)\n\nthread b:\n  y = now_ns()\n\ncheck:\n  assert a.x == 99\n",
    );
    let c = compare_file(ksim(), &both).expect("loads");
    assert_eq!(c.verdict, Verdict::Fail, "{:?}", c.problems);
    let out = Command::new(ksim()).args(["compare", &both]).output().expect("ksim runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL: ksim and the host agree"));
}

/// A native run that touches more memory than its limit is stopped and
/// reported, and `compare` labels it a documented divergence (the
/// simulator's side is bounded by its own page cap).
#[test]
fn a_native_run_over_its_memory_limit_is_stopped_and_named() {
    let f = scratch(
        "hog.scn",
        "setup:\n  a = mmap(134217728)\n  memset(a, 1, 134217728) => 0\n  munmap(a, 134217728) => 0\n",
    );
    let r = run_native_with(ksim(), &f, 48 << 20);
    match &r.status {
        Status::Error(e) => assert!(e.starts_with(MEMORY_LIMIT_HIT) && e.contains("48 MiB limit"), "{e}"),
        s => panic!("expected the memory limit to stop it, got {s:?}"),
    }
    let c = compare_file_with(ksim(), &f, 48 << 20).expect("loads");
    assert!(c.sim_passed);
    assert_eq!(c.verdict, Verdict::Divergence(vec!["native memory limit"]));
    // Under the default limit the same scenario runs and agrees.
    assert_eq!(compare_file(ksim(), &f).expect("loads").verdict, Verdict::Agree);
}

/// The registry of divergences `compare` recognises is the book's: each
/// name is the first cell of a row of the divergences chapter.
#[test]
fn every_recognised_divergence_is_in_the_book() {
    let book = std::fs::read_to_string(manifest_dir().join("../book/src/divergences.md")).expect("the book");
    for d in DIVERGENCES {
        assert!(
            book.lines().any(|l| l.starts_with(&format!("| {} |", d.name))),
            "book/src/divergences.md has no row `| {} | ...`",
            d.name
        );
    }
}

/// The host's features decide the machine the simulator is compared on:
/// a scenario that does not pin `pkeys` agrees on any host (the simulator
/// is given the host's CPU), and each pinned variant agrees where the host
/// matches and is skipped, with the reason, where it does not.
#[test]
fn prot_exec_agrees_on_this_host_whatever_its_cpu() {
    let host = scenarios::native::host::detected();
    let unpinned = scratch(
        "exec_unpinned.scn",
        "setup:\n  b = mmap(PAGE_SIZE, PROT_EXEC)\n  r = load(b)\n  store(b, 1) => SIGSEGV\n",
    );
    let c = compare_file(ksim(), &unpinned).expect("loads");
    assert_eq!(c.verdict, Verdict::Agree, "{:?}", c.disagreements);
    assert_eq!(c.machine.pkeys, host.pkeys, "the simulator ran on the host's CPU");
    assert_eq!(c.machine.cap_sys_resource, host.cap_sys_resource);
    for (file, pkeys) in [("mm_prot_exec_pkeys.scn", true), ("mm_prot_exec_readable.scn", false)] {
        let f = manifest_dir().join("library").join(file);
        let c = compare_file(ksim(), f.to_str().expect("UTF-8")).expect("loads");
        if host.pkeys == pkeys {
            assert_eq!(c.verdict, Verdict::Agree, "{file}: {:?}", c.disagreements);
        } else {
            match &c.verdict {
                Verdict::Skipped(why) => assert!(why.contains("protection keys"), "{why}"),
                v => panic!("{file}: expected a skip, got {v:?}"),
            }
        }
    }
}

/// `setrlimit(RLIMIT_NOFILE, 1048576)` agrees on any host: the simulator
/// is given the host's CAP_SYS_RESOURCE (EPERM without it: the hard limit
/// starts at 4096 on both sides), and the pinned library scenarios run
/// where the host matches and are skipped, with the reason, where not.
#[test]
fn raising_the_fd_limit_agrees_with_or_without_cap_sys_resource() {
    let host = scenarios::native::host::detected();
    let f = scratch("nofile_max.scn", "setup:\n  r = setrlimit(RLIMIT_NOFILE, 1048576)\n");
    let c = compare_file(ksim(), &f).expect("loads");
    assert_eq!(c.verdict, Verdict::Agree, "{:?}", c.disagreements);
    let want = if host.cap_sys_resource { "0" } else { "EPERM" };
    assert!(
        c.native.calls.iter().any(|l| matches!(l, scenarios::native::Line::Call { result, .. } if result == want)),
        "{:?}",
        c.native.calls
    );
    let cap = manifest_dir().join("library/rlimit_nofile_cap.scn");
    let c = compare_file(ksim(), cap.to_str().expect("UTF-8")).expect("loads");
    if host.cap_sys_resource {
        assert_eq!(c.verdict, Verdict::Agree, "{:?}", c.disagreements);
    } else {
        assert!(matches!(&c.verdict, Verdict::Skipped(w) if w.contains("lacks CAP_SYS_RESOURCE")), "{:?}", c.verdict);
    }
    // Pinned off runs everywhere: a host with the capability drops it.
    let hard = manifest_dir().join("library/rlimit_nofile_hard.scn");
    assert_eq!(compare_file(ksim(), hard.to_str().expect("UTF-8")).expect("loads").verdict, Verdict::Agree);
}
