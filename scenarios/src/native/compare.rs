//! `ksim compare`: a scenario under the simulator and on the host kernel,
//! result by result.
//!
//! A *single-threaded* scenario (at most one actor: no interleaving to
//! choose) must agree exactly: the k-th call a phase or actor made on a line
//! must return the same value on both, and both must reach the same verdict.
//! Three kinds of result are not compared as written, and the book's
//! divergences chapter says why:
//! - `now_ns()` (virtual time in ksim, CLOCK_MONOTONIC on the host);
//! - inode numbers in `fd_path` (`pipe:[N]`): the host's are its own;
//! - addresses: the host's `mmap` picks its own addresses, so each host
//!   address inside a mapping is translated to the simulator's address of the
//!   same mapping (paired by call) before comparing.
//!
//! A *multi-threaded* scenario runs with the host's interleaving, not one of
//! ours: it must satisfy its own expectations (patterns, `assert`, `never`)
//! on the host; its results are not diffed.
//!
//! Both sides are judged: a scenario that fails under ksim is never
//! [`Verdict::Agree`] ([`Verdict::Fail`] when both sides fail alike,
//! [`Verdict::Disagree`] when only ksim does). Before either side runs,
//! the planner ([`super::host::plan`]) configures the simulated machine
//! like the host (protection keys, CAP_SYS_RESOURCE, userfaultfd
//! features) or skips the scenario with its reason. A difference that a
//! documented divergence explains is [`Verdict::Divergence`], naming the
//! entry of the book's divergences chapter ([`DIVERGENCES`], one registry
//! that the chapter's rows match).

use super::{Line, NativeRun, Status};
use crate::lang::ir::Program;
use crate::runner::{execute_logged, CallRecord, RunOptions};
use sim_kernel::sched::choose::SeededChooser;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

/// One result that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    pub actor: String,
    pub line: u32,
    pub text: String,
    /// What ksim returned (`None`: ksim never made this call).
    pub sim: Option<String>,
    /// What the host returned (`None`: the host never made it).
    pub host: Option<String>,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(no such call)".into());
        write!(
            f,
            "line {} {} `{}`: ksim {}, host {}",
            self.line,
            self.actor,
            self.text,
            show(&self.sim),
            show(&self.host)
        )
    }
}

/// How the two runs of one scenario relate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both sides pass. Single-threaded: every result agrees.
    /// Multi-threaded: both satisfied the scenario's expectations.
    Agree,
    /// Results differ, or the verdicts do (listed in `problems`).
    Disagree,
    /// Both sides fail the scenario's expectations alike (single-threaded:
    /// with the same results): the scenario, not ksim, is wrong.
    Fail,
    /// The results differ as documented divergences explain: their names
    /// (the first cell of their row in the book's divergences chapter).
    Divergence(Vec<&'static str>),
    /// The host cannot run it: why.
    Skipped(String),
    /// The native run crashed or timed out.
    Error(String),
}

/// Everything `ksim compare` knows about one scenario.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub file: String,
    pub title: Option<String>,
    pub single_threaded: bool,
    pub sim_passed: bool,
    /// The simulator's violations: (kind, message).
    pub sim_violations: Vec<(String, String)>,
    pub sim_calls: usize,
    pub native: NativeRun,
    pub disagreements: Vec<Disagreement>,
    /// Verdict-level differences (one side failed an expectation).
    pub problems: Vec<String>,
    /// How many times the simulator's page cap decided a result in its run.
    pub sim_limit_hits: u64,
    /// The machine the simulator ran on (the planner's).
    pub machine: sim_kernel::Machine,
    pub verdict: Verdict,
}

/// Whether the scenario has at most one actor.
pub fn single_threaded(prog: &Program) -> bool {
    prog.actors.len() <= 1
}

/// A documented divergence `ksim compare` recognises: `name` is the first
/// cell of its row in the book's divergences chapter (a test checks the
/// chapter has it), `explains` says whether it accounts for a comparison's
/// differences.
pub struct Divergence {
    pub name: &'static str,
    pub explains: fn(&Comparison) -> bool,
}

/// Every divergence that shows up as a different result rather than being
/// normalised away (time, inode numbers, addresses) or skipped.
pub const DIVERGENCES: &[Divergence] = &[
    Divergence {
        // The simulator's page cap decided a result (SIGBUS, ENOMEM) that
        // the host, with more memory, did not give.
        name: "memory limits",
        explains: |c| c.sim_limit_hits > 0 && (!c.disagreements.is_empty() || !c.problems.is_empty()),
    },
    Divergence {
        // The native child touched more memory than the native runner lets
        // it: the host run was stopped, the simulator's cap answered.
        name: "native memory limit",
        explains: |c| matches!(&c.native.status, Status::Error(e) if e.starts_with(super::MEMORY_LIMIT_HIT)),
    },
];

/// Run `path` both ways (`exe` is the ksim binary the native child runs):
/// the planner first, then the simulator on the machine it chose, then
/// the host.
pub fn compare_file(exe: &Path, path: &str) -> Result<Comparison, String> {
    compare_file_with(exe, path, super::CHILD_MEMORY_LIMIT)
}

/// [`compare_file`] with a native memory limit of `limit` resident bytes.
pub fn compare_file_with(exe: &Path, path: &str, limit: u64) -> Result<Comparison, String> {
    let prog = crate::cli::load(path)?;
    let seed = prog.config.seed.unwrap_or(0);
    let (sim_prog, skip) = match super::host::plan(&prog, super::host::detected()) {
        super::host::Plan::Run { machine, .. } => (Rc::new(super::host::configured(&prog, machine)), None),
        super::host::Plan::Skip(why) => (prog.clone(), Some(why)),
    };
    let hits = sim_kernel::mm::limit_hits();
    let (ex, sim_calls) = execute_logged(&sim_prog, path, &mut SeededChooser::new(seed), RunOptions::default());
    let sim_limit_hits = sim_kernel::mm::limit_hits() - hits;
    let native = match skip {
        // The planner's skip, without starting a child.
        Some(why) => NativeRun { status: Status::Skipped(why), ..NativeRun::empty() },
        None => super::run_native_with(exe, path, limit),
    };
    let sim_violations = ex.violations.iter().map(|v| (v.kind.name().to_string(), v.message.clone())).collect();
    let mut c = judge(&prog, path, sim_violations, sim_calls, native);
    c.sim_limit_hits = sim_limit_hits;
    c.machine = sim_prog.config.machine();
    c.verdict = classify(&c);
    Ok(c)
}

/// The verdict once everything is known: differences a documented
/// divergence explains are [`Verdict::Divergence`].
fn classify(c: &Comparison) -> Verdict {
    match &c.verdict {
        Verdict::Disagree | Verdict::Error(_) => {
            let names: Vec<&'static str> = DIVERGENCES.iter().filter(|d| (d.explains)(c)).map(|d| d.name).collect();
            if names.is_empty() {
                c.verdict.clone()
            } else {
                Verdict::Divergence(names)
            }
        }
        v => v.clone(),
    }
}

/// Compare a simulator run (its violations and calls) with a native run.
pub fn judge(
    prog: &Rc<Program>,
    path: &str,
    sim_violations: Vec<(String, String)>,
    sim_calls: Vec<CallRecord>,
    native: NativeRun,
) -> Comparison {
    let single = single_threaded(prog);
    let sim_passed = sim_violations.is_empty();
    let mut c = Comparison {
        file: path.to_string(),
        title: prog.title.clone(),
        single_threaded: single,
        sim_passed,
        sim_violations,
        sim_calls: sim_calls.len(),
        native,
        disagreements: Vec::new(),
        problems: Vec::new(),
        sim_limit_hits: 0,
        machine: prog.config.machine(),
        verdict: Verdict::Agree,
    };
    match c.native.status.clone() {
        Status::Skipped(why) => {
            c.verdict = Verdict::Skipped(why);
            c.problems = c.sim_violations.iter().map(|(_, m)| format!("in ksim: {m}")).collect();
            return c;
        }
        Status::Error(e) => {
            c.verdict = Verdict::Error(e);
            c.problems = c.sim_violations.iter().map(|(_, m)| format!("in ksim: {m}")).collect();
            return c;
        }
        Status::Passed | Status::Failed => {}
    }
    let native_passed = c.native.status == Status::Passed;
    let mut explain = false;
    if single {
        c.disagreements = diff_calls(&sim_calls, &c.native.calls);
        // Both must reach the same verdict, failing (if they fail) for the
        // same kinds of reason.
        let kinds = |v: &mut Vec<String>| {
            v.sort();
            v.dedup();
            v.clone()
        };
        let sim_kinds = kinds(&mut c.sim_violations.iter().map(|(k, _)| k.clone()).collect());
        let host_kinds = kinds(&mut c.native.violations.iter().map(|v| v.kind.clone()).collect());
        if sim_kinds != host_kinds {
            let say =
                |k: &[String]| if k.is_empty() { "passes".to_string() } else { format!("fails ({})", k.join(", ")) };
            c.problems.push(format!("ksim {}, the host {}", say(&sim_kinds), say(&host_kinds)));
            explain = true;
        }
    } else if sim_passed != native_passed {
        c.problems.push(if sim_passed {
            "the host does not satisfy the scenario's expectations".into()
        } else {
            "ksim does not satisfy the scenario's expectations; the host does".into()
        });
        explain = true;
    }
    if explain {
        for v in &c.native.violations {
            c.problems.push(format!("on the host: {}", v.message));
        }
    }
    if explain || !sim_passed {
        for (_, m) in &c.sim_violations {
            c.problems.push(format!("in ksim: {m}"));
        }
    }
    c.verdict = if !c.disagreements.is_empty() || explain {
        Verdict::Disagree
    } else if !sim_passed {
        // Both fail, alike: never AGREE.
        Verdict::Fail
    } else {
        Verdict::Agree
    };
    c
}

type Key = (String, u32, usize);

/// Key every call by (actor, line, occurrence on that line).
fn keyed<'a, T>(items: impl Iterator<Item = (&'a str, u32, T)>) -> Vec<(Key, T)> {
    let mut seen: BTreeMap<(String, u32), usize> = BTreeMap::new();
    items
        .map(|(a, l, t)| {
            let n = seen.entry((a.to_string(), l)).or_insert(0);
            *n += 1;
            ((a.to_string(), l, *n), t)
        })
        .collect()
}

/// The call-by-call differences between the simulator's calls and the
/// host's (single-threaded scenarios).
pub fn diff_calls(sim: &[CallRecord], host: &[Line]) -> Vec<Disagreement> {
    let sim_k = keyed(sim.iter().map(|c| (c.actor.as_str(), c.line, (c.call, c.text.as_str(), c.result.as_str()))));
    let host_k = keyed(host.iter().filter_map(|l| match l {
        Line::Call { actor, line, call, text, result } => {
            Some((actor.as_str(), *line, (call.as_str(), text.as_str(), result.as_str())))
        }
        _ => None,
    }));
    let sim_map: BTreeMap<&Key, &(&str, &str, &str)> = sim_k.iter().map(|(k, v)| (k, v)).collect();
    let host_map: BTreeMap<&Key, &(&str, &str, &str)> = host_k.iter().map(|(k, v)| (k, v)).collect();
    // Address translation, host mapping base -> ksim base, in host order.
    let mut bases: Vec<(u64, u64)> = Vec::new();
    for (k, (call, _, res)) in &host_k {
        if *call == "mmap" {
            if let (Ok(h), Some(Ok(s))) = (res.parse::<u64>(), sim_map.get(k).map(|v| v.2.parse::<u64>())) {
                bases.push((h, s));
            }
        }
    }
    let mut out = Vec::new();
    for (k, (call, text, res)) in &sim_k {
        let d = |sim: Option<&str>, host: Option<&str>| Disagreement {
            actor: k.0.clone(),
            line: k.1,
            text: text.to_string(),
            sim: sim.map(str::to_string),
            host: host.map(str::to_string),
        };
        match host_map.get(k) {
            None => out.push(d(Some(res), None)),
            Some((_, _, hres)) => {
                if *call == "now_ns" {
                    continue;
                }
                let h = normalize(call, &translate(hres, &bases));
                if normalize(call, res) != h {
                    out.push(d(Some(res), Some(hres)));
                }
            }
        }
    }
    for (k, (_, text, res)) in &host_k {
        if !sim_map.contains_key(k) {
            out.push(Disagreement {
                actor: k.0.clone(),
                line: k.1,
                text: text.to_string(),
                sim: None,
                host: Some(res.to_string()),
            });
        }
    }
    out
}

/// Inode numbers (`pipe:[123]`) are the host's own.
fn normalize(call: &str, r: &str) -> String {
    if call != "fd_path" {
        return r.to_string();
    }
    let mut out = String::with_capacity(r.len());
    let mut rest = r;
    while let Some(i) = rest.find(":[") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(']') {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Host addresses inside a host mapping, as the simulator's addresses of
/// the same mapping: every decimal number at least 2^32 in the rendered
/// value (integers, record fields, list items) within 1 GiB above a host
/// base.
fn translate(r: &str, bases: &[(u64, u64)]) -> String {
    if bases.is_empty() {
        return r.to_string();
    }
    let b = r.as_bytes();
    let mut out = String::with_capacity(r.len());
    let mut i = 0;
    while i < b.len() {
        let starts_number =
            b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'\\'));
        if !starts_number {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        let j = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let s = &r[i..j];
        let mapped = s.parse::<u64>().ok().filter(|v| *v >= 1 << 32).and_then(|v| {
            bases
                .iter()
                .filter(|(h, _)| *h <= v && v - *h < 1 << 30)
                .max_by_key(|(h, _)| *h)
                .map(|(h, sb)| sb.wrapping_add(v - h))
        });
        match mapped {
            Some(m) => out.push_str(&m.to_string()),
            None => out.push_str(s),
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(actor: &str, line: u32, call: &'static str, result: &str) -> CallRecord {
        CallRecord { actor: actor.into(), line, call, text: format!("{call}(..)"), result: result.into() }
    }

    fn host(actor: &str, line: u32, call: &str, result: &str) -> Line {
        Line::Call { actor: actor.into(), line, call: call.into(), text: format!("{call}(..)"), result: result.into() }
    }

    #[test]
    fn equal_results_agree_and_a_different_one_is_named() {
        let s = vec![sim("setup", 3, "eventfd", "3"), sim("setup", 4, "read", "EINVAL"), sim("setup", 4, "read", "1")];
        let h =
            vec![host("setup", 3, "eventfd", "3"), host("setup", 4, "read", "EINVAL"), host("setup", 4, "read", "2")];
        let d = diff_calls(&s, &h);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].sim.as_deref(), d[0].host.as_deref()), (4, Some("1"), Some("2")));
        assert_eq!(
            diff_calls(&s, &s.iter().map(|c| host(&c.actor, c.line, c.call, &c.result)).collect::<Vec<_>>()),
            vec![]
        );
    }

    #[test]
    fn a_call_only_one_side_made_is_a_disagreement() {
        let s = vec![sim("setup", 3, "eventfd", "3")];
        let h = vec![host("setup", 3, "eventfd", "3"), host("finally", 9, "close", "0")];
        let d = diff_calls(&s, &h);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].sim.clone(), d[0].host.as_deref()), (None, Some("0")));
        assert_eq!(
            diff_calls(&h.iter().map(|_| sim("setup", 3, "eventfd", "3")).take(1).collect::<Vec<_>>(), &[]).len(),
            1
        );
    }

    #[test]
    fn time_inodes_and_addresses_are_compared_by_form() {
        let s = vec![
            sim("setup", 1, "now_ns", "0"),
            sim("setup", 2, "fd_path", "\"pipe:[2]\""),
            sim("setup", 3, "mmap", "268435456"),
            sim("setup", 4, "uffd_read", "{event: 18, flags: 0, address: 268439552}"),
        ];
        let h = vec![
            host("setup", 1, "now_ns", "12345"),
            host("setup", 2, "fd_path", "\"pipe:[998877]\""),
            host("setup", 3, "mmap", "140000000000000"),
            host("setup", 4, "uffd_read", "{event: 18, flags: 0, address: 140000000004096}"),
        ];
        assert_eq!(diff_calls(&s, &h), vec![]);
        let mut h2 = h.clone();
        h2[3] = host("setup", 4, "uffd_read", "{event: 18, flags: 0, address: 140000000008192}");
        assert_eq!(diff_calls(&s, &h2).len(), 1, "a different page of the mapping differs");
    }

    fn comparison(sim_limit_hits: u64, disagreements: Vec<Disagreement>, status: Status) -> Comparison {
        Comparison {
            file: "f.scn".into(),
            title: None,
            single_threaded: true,
            sim_passed: true,
            sim_violations: Vec::new(),
            sim_calls: 0,
            native: NativeRun { status, ..NativeRun::empty() },
            disagreements,
            problems: Vec::new(),
            sim_limit_hits,
            machine: sim_kernel::Machine::DEFAULT,
            verdict: Verdict::Disagree,
        }
    }

    /// A difference the simulator's page cap decided is the documented
    /// divergence "memory limits"; the same difference without the cap is
    /// a plain disagreement.
    #[test]
    fn the_page_cap_labels_a_difference_as_a_divergence() {
        let d = || {
            vec![Disagreement {
                actor: "setup".into(),
                line: 3,
                text: "memset(a, 1, N)".into(),
                sim: Some("SIGBUS".into()),
                host: Some("0".into()),
            }]
        };
        assert_eq!(classify(&comparison(1, d(), Status::Passed)), Verdict::Divergence(vec!["memory limits"]));
        assert_eq!(classify(&comparison(0, d(), Status::Passed)), Verdict::Disagree);
        let mut agree = comparison(1, Vec::new(), Status::Passed);
        agree.verdict = Verdict::Agree;
        assert_eq!(classify(&agree), Verdict::Agree);
        let mut err = comparison(0, Vec::new(), Status::Error("killed after 60 s".into()));
        err.verdict = Verdict::Error("killed after 60 s".into());
        assert_eq!(classify(&err), Verdict::Error("killed after 60 s".into()));
    }

    #[test]
    fn normalize_and_translate_leave_other_text_alone() {
        assert_eq!(normalize("fd_path", "\"anon_inode:[eventfd]\""), "\"anon_inode:[eventfd]\"");
        assert_eq!(normalize("read", "b\"pipe:[12]\""), "b\"pipe:[12]\"");
        assert_eq!(translate("b\"\\x05 4294967296\" 7", &[(4294967296, 4096)]), "b\"\\x05 4096\" 7");
    }
}
