//! `ksim run --native`, `ksim compare` and `ksim conformance`: the
//! commands, and the conformance table (per subsystem: scenarios, passed in
//! ksim, passed on the host, skipped on the host and why, documented
//! divergences, disagreements). Each command's output starts with what it
//! found on the host ([`super::host::HostFeatures::summary`]); every skip
//! prints its reason.

use super::compare::{compare_file, Comparison, Verdict};
use super::{run_native, Status};
use crate::cli::{load, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION};
use crate::lang::ir::{Const, IrExpr, Op, Program};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The host kernel's release (uname -r).
pub fn host_kernel() -> String {
    // SAFETY: a zeroed utsname filled in by uname(2).
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "?".into();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr()).to_string_lossy().into_owned()
    }
}

fn title(path: &str, t: &Option<String>) -> String {
    match t {
        Some(t) => format!("{t} ({path})"),
        None => path.to_string(),
    }
}

/// `ksim run --native FILE... [--require-native] [-v]`.
pub fn cmd_run_native(out: &mut String, exe: &Path, files: &[String], require: bool, verbose: bool) -> i32 {
    let mut code = EXIT_OK;
    let worse = |c: i32, code: &mut i32| {
        if *code == EXIT_OK || (c == EXIT_USAGE) {
            *code = (*code).max(c);
        }
    };
    for path in files {
        let prog = match load(path) {
            Ok(p) => p,
            Err(e) => {
                out.push_str(&e);
                worse(EXIT_USAGE, &mut code);
                continue;
            }
        };
        let r = run_native(exe, path);
        let _ = writeln!(out, "== {}", title(path, &prog.title));
        let _ = writeln!(
            out,
            "native run on the host kernel (Linux {}), {} calls, {} ms",
            host_kernel(),
            r.calls.len(),
            r.elapsed.as_millis()
        );
        let _ = writeln!(out, "host: {}", super::host::detected().summary());
        if verbose {
            for l in &r.calls {
                if let super::Line::Call { actor, line, text, result, .. } = l {
                    let _ = writeln!(out, "  {actor:<10} {path}:{line}  {text} = {result}");
                }
            }
        }
        if !r.outcome.is_empty() {
            let vals: Vec<String> = r.outcome.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let _ = writeln!(out, "outcome: {}", vals.join(", "));
        }
        if !r.blocked.is_empty() {
            let _ = writeln!(out, "blocked at the end: {}", r.blocked.join(", "));
        }
        for c in &r.checks {
            let status = match (c.kind.as_str(), &c.value) {
                ("assert", Ok(true)) | ("never", Ok(false)) => "ok",
                ("exists", Ok(true)) => "seen",
                ("exists", Ok(false)) => "not seen",
                _ => "FAILED",
            };
            let _ = writeln!(out, "  {status:<9} {} {}", c.kind, c.text);
        }
        match &r.status {
            Status::Passed => {
                let _ = writeln!(out, "PASS");
            }
            Status::Failed => {
                let _ = writeln!(out, "FAIL");
                for v in &r.violations {
                    let msg = v.message.replace('\n', "\n  ");
                    if v.message.starts_with(&v.kind) {
                        let _ = writeln!(out, "  {msg}");
                    } else {
                        let _ = writeln!(out, "  {}: {msg}", v.kind);
                    }
                }
                worse(EXIT_VIOLATION, &mut code);
            }
            Status::Skipped(why) => {
                let _ = writeln!(out, "SKIPPED: the host cannot run {why}");
                if require {
                    let _ = writeln!(out, "  (--require-native: a skip is an error)");
                    worse(EXIT_VIOLATION, &mut code);
                }
            }
            Status::Error(e) => {
                let _ = writeln!(out, "ERROR: {e}");
                worse(EXIT_VIOLATION, &mut code);
            }
        }
    }
    code
}

fn print_comparison(out: &mut String, c: &Comparison, verbose: bool) {
    let _ = writeln!(out, "== {}", title(&c.file, &c.title));
    let kind = if c.single_threaded { "single-threaded" } else { "multi-threaded" };
    let host = match &c.native.status {
        Status::Passed => "PASS",
        Status::Failed => "FAIL",
        Status::Skipped(_) => "skipped",
        Status::Error(_) => "error",
    };
    let _ = writeln!(
        out,
        "{kind}; ksim: {} ({} calls); host (Linux {}): {host} ({} calls)",
        if c.sim_passed { "PASS" } else { "FAIL" },
        c.sim_calls,
        host_kernel(),
        c.native.calls.len()
    );
    let _ = writeln!(out, "host: {}", super::host::detected().summary());
    let m = &c.machine;
    let on = |b: bool| if b { "on" } else { "off" };
    let _ = writeln!(
        out,
        "ksim's machine: pkeys={}, cap_sys_resource={}, userfaultfd features {:#x}",
        on(m.pkeys),
        on(m.cap_sys_resource),
        m.uffd_features
    );
    if verbose {
        for l in &c.native.calls {
            if let super::Line::Call { actor, line, text, result, .. } = l {
                let _ = writeln!(out, "  host {actor:<10} {}:{line}  {text} = {result}", c.file);
            }
        }
    }
    match &c.verdict {
        Verdict::Agree if c.single_threaded => {
            let _ = writeln!(out, "AGREE: every result is the same");
        }
        Verdict::Agree => {
            let _ =
                writeln!(out, "AGREE: the host satisfies the scenario's expectations (its interleaving is its own)");
        }
        Verdict::Skipped(why) => {
            let _ = writeln!(out, "SKIPPED: the host cannot run {why}");
            for p in &c.problems {
                let _ = writeln!(out, "  {}", p.replace('\n', "\n    "));
            }
        }
        Verdict::Error(e) => {
            let _ = writeln!(out, "ERROR: {e}");
            for p in &c.problems {
                let _ = writeln!(out, "  {}", p.replace('\n', "\n    "));
            }
        }
        Verdict::Disagree | Verdict::Fail | Verdict::Divergence(_) => {
            let _ = match &c.verdict {
                Verdict::Disagree => writeln!(out, "DISAGREE"),
                Verdict::Fail => {
                    writeln!(out, "FAIL: ksim and the host agree, and both fail the scenario's expectations")
                }
                Verdict::Divergence(names) => writeln!(
                    out,
                    "DIVERGENCE: a documented divergence, not a bug (book, Divergences from Linux: {})",
                    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                ),
                _ => Ok(()),
            };
            for d in &c.disagreements {
                let _ = writeln!(out, "  {}:{d}", c.file);
            }
            for p in &c.problems {
                let _ = writeln!(out, "  {}", p.replace('\n', "\n    "));
            }
            if let Status::Error(e) = &c.native.status {
                let _ = writeln!(out, "  on the host: {e}");
            }
        }
    }
}

/// `ksim compare FILE... [--require-native] [-v]`.
pub fn cmd_compare(out: &mut String, exe: &Path, files: &[String], require: bool, verbose: bool) -> i32 {
    let mut code = EXIT_OK;
    for path in files {
        match compare_file(exe, path) {
            Err(e) => {
                out.push_str(&e);
                code = EXIT_USAGE;
            }
            Ok(c) => {
                print_comparison(out, &c, verbose);
                let bad = !c.sim_passed
                    || match &c.verdict {
                        Verdict::Agree | Verdict::Divergence(_) => false,
                        Verdict::Skipped(_) => require,
                        Verdict::Disagree | Verdict::Fail | Verdict::Error(_) => true,
                    };
                if bad && code == EXIT_OK {
                    code = EXIT_VIOLATION;
                }
            }
        }
    }
    code
}

/// The subsystem a scenario checks, from the calls it makes: userfaultfd,
/// CUSE (a daemon reads `/dev/cuse`), InfiniBand uverbs (`ibv_*`, `uverbs_*`
/// and `ib_*` calls, or a file named `uverbs*`), the book's tutorial mailbox, memory, notification pipes, pipes, then eventfd (its own calls, or a
/// file named `eventfd*`) and the VFS calls.
pub fn subsystem(path: &str, prog: &Program) -> &'static str {
    let mut names = Vec::new();
    let mut ints = Vec::new();
    fn walk(ops: &[Op], names: &mut Vec<&'static str>, ints: &mut Vec<u64>) {
        for op in ops {
            match op {
                Op::Call(c) => {
                    names.push(crate::calls::call_sig(c.call).name);
                    for a in &c.args {
                        if let IrExpr::Const(Const::Int(n)) = a {
                            ints.push(*n);
                        }
                    }
                }
                Op::Repeat { body, .. } => walk(body, names, ints),
            }
        }
    }
    walk(&prog.setup, &mut names, &mut ints);
    for a in &prog.actors {
        walk(&a.body, &mut names, &mut ints);
    }
    walk(&prog.finally, &mut names, &mut ints);
    let has = |n: &str| names.contains(&n);
    let stem = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if has("userfaultfd") || has("uffd_read") {
        "userfaultfd"
    } else if has("fuse_read") {
        "CUSE"
    } else if names.iter().any(|n| n.starts_with("ibv_") || n.starts_with("uverbs_") || n.starts_with("ib_"))
        || stem.starts_with("uverbs")
    {
        "InfiniBand uverbs"
    } else if has("mailbox") {
        "tutorial mailbox"
    } else if ["mmap", "munmap", "mprotect", "load", "store", "memset"].iter().any(|n| has(n)) {
        "memory"
    } else if ["watch_add", "watch_remove", "post_notification", "watch_source", "watch_source_destroy"]
        .iter()
        .any(|n| has(n))
        || ints.iter().any(|n| {
            *n == super::watch_queue::IOC_WATCH_QUEUE_SET_SIZE as u64
                || *n == super::watch_queue::IOC_WATCH_QUEUE_SET_FILTER as u64
        })
    {
        "notification pipes"
    } else if has("pipe") || has("pipe2") {
        "pipes"
    } else if stem.starts_with("eventfd")
        || stem.starts_with("kernel_")
        || names
            .iter()
            .all(|n| n.starts_with("eventfd") || ["read", "write", "close", "poll", "now_ns", "sleep_ns"].contains(n))
    {
        "eventfd"
    } else {
        "vfs"
    }
}

/// One scenario's line in the conformance report.
pub struct Entry {
    pub subsystem: &'static str,
    pub cmp: Comparison,
}

/// Run every scenario both ways.
pub fn conformance(exe: &Path, files: &[String]) -> Result<Vec<Entry>, String> {
    let mut v = Vec::new();
    for f in files {
        let prog = load(f)?;
        let cmp = compare_file(exe, f)?;
        v.push(Entry { subsystem: subsystem(f, &prog), cmp });
    }
    Ok(v)
}

#[derive(Default)]
struct Row {
    scenarios: usize,
    sim_passed: usize,
    native_passed: usize,
    skipped: usize,
    disagreements: usize,
    errors: usize,
    divergences: usize,
    reasons: BTreeMap<String, usize>,
}

/// A skip reason without its line number, for grouping.
fn reason_key(r: &str) -> String {
    match (r.find(" (line "), r.find("): ")) {
        (Some(a), Some(b)) if b > a => format!("{}: {}", &r[..a], &r[b + 3..]),
        _ => r.to_string(),
    }
}

fn rows(entries: &[Entry]) -> BTreeMap<&'static str, Row> {
    let mut m: BTreeMap<&'static str, Row> = BTreeMap::new();
    for e in entries {
        let r = m.entry(e.subsystem).or_default();
        r.scenarios += 1;
        r.sim_passed += e.cmp.sim_passed as usize;
        r.native_passed += (e.cmp.native.status == Status::Passed) as usize;
        match &e.cmp.verdict {
            Verdict::Skipped(why) => {
                r.skipped += 1;
                *r.reasons.entry(reason_key(why)).or_default() += 1;
            }
            Verdict::Disagree | Verdict::Fail => r.disagreements += 1,
            Verdict::Error(_) => r.errors += 1,
            Verdict::Divergence(_) => r.divergences += 1,
            Verdict::Agree => {}
        }
    }
    m
}

/// The report as a markdown table (what the book includes).
pub fn markdown(entries: &[Entry]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Host: Linux {} ({}). Generated by `ksim conformance --markdown`.\n",
        host_kernel(),
        super::host::detected().summary()
    );
    let _ = writeln!(
        s,
        "| subsystem | scenarios | passed in ksim | passed on the host | skipped on the host | documented divergences \
         | disagreements |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    let rows = rows(entries);
    let mut total = Row::default();
    for (name, r) in &rows {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            r.scenarios,
            r.sim_passed,
            r.native_passed,
            r.skipped,
            r.divergences,
            r.disagreements + r.errors
        );
        total.divergences += r.divergences;
        total.scenarios += r.scenarios;
        total.sim_passed += r.sim_passed;
        total.native_passed += r.native_passed;
        total.skipped += r.skipped;
        total.disagreements += r.disagreements + r.errors;
    }
    let _ = writeln!(
        s,
        "| **all** | {} | {} | {} | {} | {} | {} |\n",
        total.scenarios, total.sim_passed, total.native_passed, total.skipped, total.divergences, total.disagreements
    );
    let _ = writeln!(s, "Why scenarios are skipped on the host:\n");
    for (name, r) in &rows {
        for (why, n) in &r.reasons {
            let _ = writeln!(s, "- {name}, {n} scenario{}: {why}", if *n == 1 { "" } else { "s" });
        }
    }
    s
}

/// The report as JSON.
pub fn json_report(entries: &[Entry]) -> serde_json::Value {
    let rows = rows(entries);
    json!({
        "host": {
            "kernel": host_kernel(),
            "watch_queue": super::host::detected().watch_queue,
            "pkeys": super::host::detected().pkeys,
            "cap_sys_resource": super::host::detected().cap_sys_resource,
            "userfaultfd": match &super::host::detected().userfaultfd {
                Ok(f) => json!({"features": f}),
                Err(why) => json!({"refused": why}),
            },
        },
        "subsystems": rows.iter().map(|(name, r)| json!({
            "subsystem": name,
            "scenarios": r.scenarios,
            "sim_passed": r.sim_passed,
            "native_passed": r.native_passed,
            "native_skipped": r.skipped,
            "skip_reasons": r.reasons,
            "disagreements": r.disagreements,
            "divergences": r.divergences,
            "errors": r.errors,
        })).collect::<Vec<_>>(),
        "scenarios": entries.iter().map(|e| {
            let c = &e.cmp;
            json!({
                "file": c.file,
                "subsystem": e.subsystem,
                "threads": if c.single_threaded { "single" } else { "multi" },
                "sim": if c.sim_passed { "pass" } else { "fail" },
                "native": match &c.native.status {
                    Status::Passed => "pass".to_string(),
                    Status::Failed => "fail".to_string(),
                    Status::Skipped(_) => "skip".to_string(),
                    Status::Error(_) => "error".to_string(),
                },
                "verdict": match &c.verdict {
                    Verdict::Agree => "agree".to_string(),
                    Verdict::Disagree => "disagree".to_string(),
                    Verdict::Fail => "fail".to_string(),
                    Verdict::Divergence(n) => format!("divergence: {}", n.join(", ")),
                    Verdict::Skipped(w) => format!("skipped: {w}"),
                    Verdict::Error(e) => format!("error: {e}"),
                },
                "disagreements": c.disagreements.iter().map(|d| d.to_string()).chain(c.problems.iter().cloned()).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })
}

/// The shipped library when no files are given: `scenarios/library` under
/// the current directory or under the crate.
pub fn default_library() -> Vec<String> {
    let dirs = [Path::new("scenarios/library").to_path_buf(), Path::new(env!("CARGO_MANIFEST_DIR")).join("library")];
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut v: Vec<String> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "scn"))
                .filter_map(|p| p.to_str().map(str::to_string))
                .collect();
            v.sort();
            return v;
        }
    }
    Vec::new()
}

/// `ksim conformance [FILE...] [--json] [--markdown]`.
pub fn cmd_conformance(out: &mut String, exe: &Path, files: &[String], json: bool, md: bool) -> i32 {
    let files = if files.is_empty() { default_library() } else { files.to_vec() };
    if files.is_empty() {
        let _ = writeln!(out, "error: no scenarios given and no scenarios/library directory found");
        return EXIT_USAGE;
    }
    let entries = match conformance(exe, &files) {
        Ok(e) => e,
        Err(e) => {
            out.push_str(&e);
            return EXIT_USAGE;
        }
    };
    if json {
        let _ = writeln!(out, "{}", json_report(&entries));
    } else if md {
        out.push_str(&markdown(&entries));
    } else {
        out.push_str(&markdown(&entries));
        let bad: Vec<&Entry> = entries
            .iter()
            .filter(|e| matches!(e.cmp.verdict, Verdict::Disagree | Verdict::Fail | Verdict::Error(_)))
            .collect();
        if !bad.is_empty() {
            let _ = writeln!(out, "\nDisagreements:");
            for e in bad {
                print_comparison(out, &e.cmp, false);
            }
        }
        let known: Vec<&Entry> = entries.iter().filter(|e| matches!(e.cmp.verdict, Verdict::Divergence(_))).collect();
        if !known.is_empty() {
            let _ = writeln!(out, "\nDocumented divergences:");
            for e in known {
                print_comparison(out, &e.cmp, false);
            }
        }
    }
    if entries
        .iter()
        .any(|e| !e.cmp.sim_passed || matches!(e.cmp.verdict, Verdict::Disagree | Verdict::Fail | Verdict::Error(_)))
    {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    }
}
