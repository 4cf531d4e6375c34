//! `ksim explore`: search the schedules of a scenario (SCENARIO-LANGUAGE.md
//! section 6).
//!
//! The search is a depth-first walk of the scheduler's decisions; each
//! execution is rebuilt by re-running the scenario from the start with the
//! decisions of the current path replayed (executions are cheap: one OS
//! thread, pooled coroutine stacks).
//!
//! Modes:
//! - **dpor** (default): dynamic partial-order reduction (Flanagan and
//!   Godefroid, POPL 2005) with sleep sets. Each step's footprint (the kernel
//!   state it touched, see `sim_kernel::footprint`) decides which steps are
//!   dependent; after every execution, each pair of dependent steps of
//!   different actors not ordered by happens-before adds the later actor as
//!   an alternative at the earlier step's decision. Only schedules that can
//!   reorder dependent steps are explored, so actors working on unrelated
//!   objects do not multiply the count. Sleep sets skip alternatives already
//!   covered by an earlier sibling.
//! - **naive**: every runnable actor at every decision, optionally within a
//!   preemption bound (`--preemptions N`, as in CHESS and loom). A bounded
//!   search uses this mode: DPOR's pruning is not sound under a bound.
//! - **random**: N schedules from seeds derived from one seed.
//!
//! The first decision (the root) is always fully expanded, in actor order,
//! and each root child's subtree is explored independently of the others
//! (its sleep set is computed from the root alone). That makes `--shard
//! I/N` exact: shard I explores the root children whose position is I mod
//! N, and the shards' executions and histograms add up to the unsharded
//! search. Parallel exploration runs shards on threads and merges them.

use crate::cli::load_source;
use crate::lang::ast::CheckKind;
use crate::lang::ir::Program;
use crate::runner::{execute, Execution, RunOptions};
use serde::{Deserialize, Serialize};
use sim_kernel::sched::choose::{format_schedule, SeededChooser};
use sim_kernel::sched::exec::{footprints_conflict, step_count, steps_since, ChoicePoint, Chooser, Step};
use sim_kernel::sched::ActorId;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

type Footprint = Vec<(u64, bool)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Dpor,
    Naive,
}

/// What to search and how far.
#[derive(Clone, Debug, Default)]
pub struct ExploreOptions {
    pub mode: Mode,
    /// Preemption bound (forces the naive mode).
    pub preemptions: Option<u32>,
    pub max_executions: Option<u64>,
    pub time_limit: Option<Duration>,
    /// `(count, seed)`: random schedules instead of a systematic search.
    pub random: Option<(u64, u64)>,
    /// `(index, count)`.
    pub shard: Option<(u32, u32)>,
}

/// One distinct outcome and how many explored executions reached it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub values: BTreeMap<String, String>,
    pub count: u64,
}

/// The best (fewest preemptions, then shortest) schedule found for one
/// distinct violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    pub kind: String,
    pub key: String,
    pub message: String,
    pub schedule: String,
    pub preemptions: u64,
    /// Executions that showed this violation.
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistsResult {
    pub check: String,
    pub line: u32,
    pub seen: bool,
    /// A schedule where it held.
    pub schedule: Option<String>,
}

/// The report of a search, as `--json` prints it and `ksim merge` joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub file: String,
    pub title: Option<String>,
    pub mode: String,
    pub executions: u64,
    /// Executions cut short because their sleep set proved them redundant
    /// (not counted in `executions`).
    pub pruned: u64,
    pub complete: bool,
    pub preemption_bound: Option<u32>,
    pub shard: Option<String>,
    /// Distinct violations (see `counterexamples`).
    pub violations: u64,
    pub outcomes: Vec<Outcome>,
    pub exists: Vec<ExistsResult>,
    pub counterexamples: Vec<Counterexample>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.violations > 0 || self.exists.iter().any(|e| !e.seen)
    }
}

/// Accumulates executions into a report.
struct Acc {
    outcomes: BTreeMap<Vec<(String, String)>, u64>,
    cex: BTreeMap<String, Counterexample>,
    exists: Vec<ExistsResult>,
    executions: u64,
    pruned: u64,
}

impl Acc {
    fn new(prog: &Program) -> Acc {
        Acc {
            outcomes: BTreeMap::new(),
            cex: BTreeMap::new(),
            exists: prog
                .checks
                .iter()
                .filter(|c| c.kind == CheckKind::Exists)
                .map(|c| ExistsResult { check: c.text.clone(), line: c.span.line, seen: false, schedule: None })
                .collect(),
            executions: 0,
            pruned: 0,
        }
    }

    fn add(&mut self, ex: &Execution) {
        self.executions += 1;
        *self.outcomes.entry(ex.outcome.clone()).or_insert(0) += 1;
        let sched = format_schedule(&ex.schedule);
        let pre = ex.preemptions() as u64;
        for v in &ex.violations {
            let cand = Counterexample {
                kind: v.kind.name().to_string(),
                key: v.key.clone(),
                message: v.message.clone(),
                schedule: sched.clone(),
                preemptions: pre,
                count: 1,
            };
            match self.cex.get_mut(&v.key) {
                Some(c) => {
                    c.count += 1;
                    if better(&cand, c) {
                        let count = c.count;
                        *c = Counterexample { count, ..cand };
                    }
                }
                None => {
                    self.cex.insert(v.key.clone(), cand);
                }
            }
        }
        let mut i = 0;
        for c in &ex.checks {
            if c.kind == CheckKind::Exists {
                if c.value == Ok(true) && !self.exists[i].seen {
                    self.exists[i].seen = true;
                    self.exists[i].schedule = Some(sched.clone());
                }
                i += 1;
            }
        }
    }

    fn report(self, path: &str, prog: &Program, mode: &str, complete: bool, o: &ExploreOptions) -> Report {
        Report {
            file: path.to_string(),
            title: prog.title.clone(),
            mode: mode.to_string(),
            executions: self.executions,
            pruned: self.pruned,
            complete,
            preemption_bound: o.preemptions,
            shard: o.shard.map(|(i, n)| format!("{i}/{n}")),
            violations: self.cex.len() as u64,
            outcomes: self
                .outcomes
                .into_iter()
                .map(|(k, count)| Outcome { values: k.into_iter().collect(), count })
                .collect(),
            exists: self.exists,
            counterexamples: self.cex.into_values().collect(),
        }
    }
}

/// Order counterexamples: fewest preemptions, then shortest schedule, then
/// the schedule text (deterministic whatever the search order).
fn better(a: &Counterexample, b: &Counterexample) -> bool {
    (a.preemptions, a.schedule.len(), &a.schedule) < (b.preemptions, b.schedule.len(), &b.schedule)
}

/// One decision on the current search path.
#[derive(Clone, Debug)]
struct Node {
    enabled: Vec<ActorId>,
    prev: Option<ActorId>,
    prev_runnable: bool,
    chosen: ActorId,
    /// Alternatives to explore here, in order.
    backtrack: Vec<ActorId>,
    done: Vec<ActorId>,
    /// Actors asleep here: their next step is covered elsewhere.
    sleep: Vec<(ActorId, Footprint)>,
    /// Footprint of the first step after each explored choice.
    first_fp: Vec<(ActorId, Footprint)>,
    /// Preemptions on the path before this decision.
    preemptions: u32,
    /// Step index at which this decision was taken.
    step_at: usize,
}

impl Node {
    fn is_preemption(&self, a: ActorId) -> bool {
        self.prev_runnable && Some(a) != self.prev
    }
}

/// The chooser that replays the current path and extends it.
struct DfsChooser<'a> {
    stack: &'a mut Vec<Node>,
    mode: Mode,
    bound: Option<u32>,
    /// Root children this search may take (sharding), in root order.
    root_allowed: &'a dyn Fn(usize, &[ActorId]) -> bool,
    /// Sleep entries for the root's children, computed by the driver.
    root_sleep: &'a dyn Fn(ActorId, &[ActorId]) -> Vec<(ActorId, Footprint)>,
    pruned: bool,
}

impl DfsChooser<'_> {
    /// The sleep set in force after the decision `i - 1` on the current
    /// path: its node's sleepers and its earlier-explored siblings, less
    /// those a step since that decision depends on.
    fn child_sleep(&self, i: usize) -> Vec<(ActorId, Footprint)> {
        if self.mode == Mode::Naive || i == 0 {
            return Vec::new();
        }
        let parent = &self.stack[i - 1];
        let mut sleep: Vec<(ActorId, Footprint)> = if i == 1 {
            (self.root_sleep)(parent.chosen, &parent.enabled)
        } else {
            let mut sl = parent.sleep.clone();
            for (a, fp) in &parent.first_fp {
                if parent.done.contains(a) && *a != parent.chosen && !sl.iter().any(|(b, _)| b == a) {
                    sl.push((*a, fp.clone()));
                }
            }
            sl
        };
        let since = steps_since(parent.step_at);
        sleep.retain(|(a, fp)| !since.iter().any(|s| s.actor == *a || footprints_conflict(&s.accesses, fp)));
        sleep
    }
}

impl Chooser for DfsChooser<'_> {
    fn forced(&mut self, actor: ActorId, decisions: usize) {
        // The only runnable actor is asleep: everything from here is
        // covered by a schedule already explored.
        if decisions > 0
            && decisions == self.stack.len()
            && self.child_sleep(decisions).iter().any(|(a, _)| *a == actor)
        {
            self.pruned = true;
            sim_kernel::sched::request_stop();
        }
    }

    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        let i = p.index;
        if i < self.stack.len() {
            let n = &mut self.stack[i];
            n.step_at = step_count();
            return n.chosen;
        }
        // A new decision.
        let (preemptions, mut sleep) = match self.stack.last() {
            None => (0, Vec::new()),
            Some(parent) => {
                let pre = parent.preemptions + parent.is_preemption(parent.chosen) as u32;
                (pre, self.child_sleep(i))
            }
        };
        if self.mode == Mode::Naive {
            sleep.clear();
        }
        let mut node = Node {
            enabled: p.runnable.to_vec(),
            prev: p.prev,
            prev_runnable: p.prev_runnable,
            chosen: 0,
            backtrack: Vec::new(),
            done: Vec::new(),
            sleep,
            first_fp: Vec::new(),
            preemptions,
            step_at: step_count(),
        };
        // Candidates: awake, within the bound, allowed at the root; the
        // previous actor first (fewest preemptions first).
        let mut cands: Vec<ActorId> = Vec::new();
        if let Some(pr) = p.prev.filter(|_| p.prev_runnable) {
            cands.push(pr);
        }
        cands.extend(p.runnable.iter().copied().filter(|a| Some(*a) != p.prev || !p.prev_runnable));
        cands.retain(|a| !node.sleep.iter().any(|(s, _)| s == a));
        if let Some(b) = self.bound {
            cands.retain(|a| node.preemptions + node.is_preemption(*a) as u32 <= b);
        }
        if i == 0 {
            // The root: every child, in actor order, split by shard.
            let all: Vec<ActorId> = p.runnable.to_vec();
            cands = all.iter().copied().filter(|a| (self.root_allowed)(*a as usize, &all)).collect();
            node.backtrack = cands.clone();
        } else if self.mode == Mode::Naive {
            node.backtrack = cands.clone();
        }
        let Some(&first) = cands.first() else {
            self.pruned = true;
            sim_kernel::sched::request_stop();
            node.chosen = p.runnable[0];
            self.stack.push(node);
            return p.runnable[0];
        };
        node.chosen = first;
        node.done.push(first);
        if node.backtrack.is_empty() {
            node.backtrack.push(first);
        }
        self.stack.push(node);
        first
    }
}

/// DPOR's race analysis over one execution: for each step, the latest
/// earlier dependent step of another actor not ordered before it by
/// happens-before gets that actor (or, if it could not run there, every
/// actor that could) as an alternative at its decision.
fn add_races(stack: &mut [Node], steps: &[Step], nactors: usize, finally_id: ActorId) {
    let m = steps.len();
    let mut vc_actor: Vec<Vec<u32>> = vec![vec![0; nactors]; nactors];
    let mut step_vc: Vec<Vec<u32>> = Vec::with_capacity(m);
    let mut pos: Vec<u32> = Vec::with_capacity(m);
    let mut count = vec![0u32; nactors];
    let mut finally_started = false;
    for k in 0..m {
        let a = steps[k].actor;
        if a >= nactors {
            step_vc.push(vec![0; nactors]);
            pos.push(0);
            continue;
        }
        if a == finally_id && !finally_started {
            // `finally` starts after every actor has stopped: a barrier.
            finally_started = true;
            let mut j = vec![0; nactors];
            for v in &vc_actor {
                for (x, y) in j.iter_mut().zip(v) {
                    *x = (*x).max(*y);
                }
            }
            vc_actor[a] = j;
        }
        let mut c = vc_actor[a].clone();
        for j in (0..k).rev() {
            let b = steps[j].actor;
            if b == a || b >= nactors || !steps[j].dependent(&steps[k]) {
                continue;
            }
            if c[b] >= pos[j] + 1 {
                continue; // j happens before a's state
            }
            if let Some(d) = steps[j].decision {
                if let Some(node) = stack.get_mut(d) {
                    let add: Vec<ActorId> = if node.enabled.contains(&a) { vec![a] } else { node.enabled.clone() };
                    for x in add {
                        if !node.backtrack.contains(&x) && d != 0 {
                            node.backtrack.push(x);
                        }
                    }
                }
            }
            break;
        }
        for j in 0..k {
            if steps[j].actor < nactors && steps[j].dependent(&steps[k]) {
                for (x, y) in c.iter_mut().zip(&step_vc[j]) {
                    *x = (*x).max(*y);
                }
            }
        }
        count[a] += 1;
        c[a] = count[a];
        pos.push(count[a] - 1);
        step_vc.push(c.clone());
        vc_actor[a] = c;
    }
}

/// Run one execution along the current path; returns it unless pruned.
fn run_one(
    prog: &Rc<Program>,
    path: &str,
    stack: &mut Vec<Node>,
    o: &ExploreOptions,
    mode: Mode,
    root_allowed: &dyn Fn(usize, &[ActorId]) -> bool,
    root_sleep: &dyn Fn(ActorId, &[ActorId]) -> Vec<(ActorId, Footprint)>,
) -> (Execution, bool) {
    let mut ch = DfsChooser { stack, mode, bound: o.preemptions, root_allowed, root_sleep, pruned: false };
    let ex = execute(prog, path, &mut ch, RunOptions { verbose: false, record_steps: true });
    let pruned = ch.pruned;
    // Record each decision's first-step footprint.
    for s in &ex.steps {
        if let Some(d) = s.decision {
            if let Some(n) = stack.get_mut(d) {
                let chosen = n.chosen;
                if !n.first_fp.iter().any(|(a, _)| *a == chosen) {
                    n.first_fp.push((chosen, s.accesses.clone()));
                }
            }
        }
    }
    (ex, pruned)
}

/// Explore `src` (the text of `path`). Never panics on user input.
pub fn explore(path: &str, src: &str, o: &ExploreOptions) -> Result<Report, String> {
    let prog = load_source(path, src)?;
    let started = Instant::now();
    let mut acc = Acc::new(&prog);
    let out_of_budget = |acc: &Acc| {
        o.max_executions.is_some_and(|m| acc.executions >= m) || o.time_limit.is_some_and(|t| started.elapsed() >= t)
    };
    if let Some((n, seed)) = o.random {
        for i in 0..n {
            if out_of_budget(&acc) {
                break;
            }
            // Sub-seeds: a fixed odd multiplier spreads consecutive seeds.
            let s = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let ex = execute(&prog, path, &mut SeededChooser::new(s), RunOptions::default());
            acc.add(&ex);
        }
        return Ok(acc.report(path, &prog, "random", false, o));
    }
    let mode = if o.preemptions.is_some() { Mode::Naive } else { o.mode };
    let mode_name = match mode {
        Mode::Dpor => "dpor",
        Mode::Naive => "naive",
    };
    let nactors = prog.actors.len() + 2;
    let finally_id = prog.actors.len() + 1;
    let (shard_i, shard_n) = o.shard.unwrap_or((0, 1));
    if shard_n == 0 || shard_i >= shard_n {
        return Err(format!("error: --shard {shard_i}/{shard_n}: the index must be below the count\n"));
    }
    let root_allowed = move |a: usize, all: &[ActorId]| {
        let pos = all.iter().position(|x| *x == a).unwrap_or(0) as u32;
        pos % shard_n == shard_i
    };
    // Root children's first-step footprints, probed before the search so
    // that every shard computes the same sleep sets as the whole search:
    // one execution per root child, not counted.
    let mut probes: BTreeMap<ActorId, Footprint> = BTreeMap::new();
    if mode == Mode::Dpor {
        let mut st: Vec<Node> = Vec::new();
        let (_, _) = run_one(&prog, path, &mut st, o, Mode::Naive, &|_, _| true, &|_, _| Vec::new());
        let root: Vec<ActorId> = st.first().map(|n| n.enabled.clone()).unwrap_or_default();
        for &a in &root {
            let mut st: Vec<Node> = Vec::new();
            let allow_a = move |x: usize, _: &[ActorId]| x == a;
            let (ex, _) = run_one(&prog, path, &mut st, o, Mode::Naive, &allow_a, &|_, _| Vec::new());
            let fp = ex.steps.iter().find(|s| s.decision == Some(0)).map(|s| s.accesses.clone()).unwrap_or_default();
            probes.insert(a, fp);
        }
    }
    let root_sleep = |chosen: ActorId, all: &[ActorId]| -> Vec<(ActorId, Footprint)> {
        if mode == Mode::Naive {
            return Vec::new();
        }
        all.iter().take_while(|x| **x != chosen).map(|x| (*x, probes.get(x).cloned().unwrap_or_default())).collect()
    };
    let mut stack: Vec<Node> = Vec::new();
    let mut complete = true;
    loop {
        if out_of_budget(&acc) {
            complete = false;
            break;
        }
        let (ex, pruned) = run_one(&prog, path, &mut stack, o, mode, &root_allowed, &root_sleep);
        let no_root = stack.is_empty();
        if pruned {
            acc.pruned += 1;
        } else if shard_i == 0 || !no_root {
            acc.add(&ex);
        }
        if mode == Mode::Dpor && !pruned {
            add_races(&mut stack, &ex.steps, nactors, finally_id);
        }
        // Nodes past the decisions this execution made are stale.
        debug_assert!(stack.len() >= ex.decisions.len(), "a replayed prefix made different decisions");
        stack.truncate(ex.decisions.len());
        // Backtrack to the deepest node with an alternative left.
        loop {
            let Some(top) = stack.last_mut() else { break };
            let next = top.backtrack.iter().copied().find(|a| {
                !top.done.contains(a)
                    && !top.sleep.iter().any(|(s, _)| s == a)
                    && o.preemptions.is_none_or(|b| top.preemptions + top.is_preemption(*a) as u32 <= b)
            });
            match next {
                Some(a) => {
                    top.done.push(a);
                    top.chosen = a;
                    break;
                }
                None => {
                    stack.pop();
                }
            }
        }
        if stack.is_empty() {
            break;
        }
    }
    Ok(acc.report(path, &prog, mode_name, complete, o))
}

/// Join shard reports of the same file into one (`ksim merge`).
pub fn merge(reports: &[Report]) -> Result<Report, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    let mut outcomes: BTreeMap<BTreeMap<String, String>, u64> = BTreeMap::new();
    let mut cex: BTreeMap<String, Counterexample> = BTreeMap::new();
    let mut exists = first.exists.clone();
    let (mut executions, mut pruned, mut complete) = (0, 0, true);
    for r in reports {
        if r.file != first.file || r.mode != first.mode || r.preemption_bound != first.preemption_bound {
            return Err(format!(
                "cannot merge a report of {} ({}) with one of {} ({})",
                r.file, r.mode, first.file, first.mode
            ));
        }
        executions += r.executions;
        pruned += r.pruned;
        complete &= r.complete;
        for oc in &r.outcomes {
            *outcomes.entry(oc.values.clone()).or_insert(0) += oc.count;
        }
        for c in &r.counterexamples {
            match cex.get_mut(&c.key) {
                Some(b) => {
                    let count = b.count + c.count;
                    if better(c, b) {
                        *b = c.clone();
                    }
                    b.count = count;
                }
                None => {
                    cex.insert(c.key.clone(), c.clone());
                }
            }
        }
        for (e, x) in exists.iter_mut().zip(&r.exists) {
            if x.seen && (!e.seen || x.schedule < e.schedule) {
                e.seen = true;
                e.schedule = x.schedule.clone();
            }
        }
    }
    // A set of shards is complete only if every shard of the split is here.
    let shards: Vec<&str> = reports.iter().filter_map(|r| r.shard.as_deref()).collect();
    if !shards.is_empty() {
        let n: Option<u32> = shards[0].split('/').nth(1).and_then(|x| x.parse().ok());
        let mut seen: Vec<u32> = shards.iter().filter_map(|s| s.split('/').next()?.parse().ok()).collect();
        seen.sort_unstable();
        seen.dedup();
        if n != Some(seen.len() as u32) || shards.len() != reports.len() {
            complete = false;
        }
    }
    Ok(Report {
        file: first.file.clone(),
        title: first.title.clone(),
        mode: first.mode.clone(),
        executions,
        pruned,
        complete,
        preemption_bound: first.preemption_bound,
        shard: None,
        violations: cex.len() as u64,
        outcomes: outcomes.into_iter().map(|(values, count)| Outcome { values, count }).collect(),
        exists,
        counterexamples: cex.into_values().collect(),
    })
}

/// Explore with `jobs` threads: shards 0..jobs, merged. The result equals
/// the sequential search's.
pub fn explore_parallel(path: &str, src: &str, o: &ExploreOptions, jobs: u32) -> Result<Report, String> {
    if jobs <= 1 || o.random.is_some() || o.shard.is_some() || o.max_executions.is_some() || o.time_limit.is_some() {
        return explore(path, src, o);
    }
    let results: Vec<Result<Report, String>> = crossbeam::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|i| {
                let mut oi = o.clone();
                oi.shard = Some((i, jobs));
                s.spawn(move |_| explore(path, src, &oi))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("an exploration thread panicked".into()))).collect()
    })
    .map_err(|_| "an exploration thread panicked".to_string())?;
    let reports = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut r = merge(&reports)?;
    r.shard = None;
    Ok(r)
}
