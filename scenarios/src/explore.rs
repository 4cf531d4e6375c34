//! `ksim explore`: search the schedules of a scenario (the book's
//! exploration chapter).
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
//!
//! A search ends with a report, never a hang (book: exploration.md,
//! "Limits"): every execution runs under the step limit and the
//! `--time-limit` deadline, and a SIGINT or SIGTERM (see
//! `crate::limits`) is looked at between executions and inside one; an
//! execution cut off is not counted and the report says why
//! (`time_limit_reached`, `interrupted`). The naive count's set of seen
//! traces is capped per root child ([`NAIVE_SEEN_BYTES`]); past the cap
//! the count is a lower bound (`naive_capped`).

use crate::cli::load_source;
use crate::lang::ast::CheckKind;
use crate::lang::ir::Program;
use crate::runner::{execute, Execution, RunOptions};
use serde::{Deserialize, Serialize};
use sim_kernel::sched::choose::{format_schedule, PctChooser, SeededChooser};
use sim_kernel::sched::exec::{footprints_conflict, step_count, with_steps_since, ChoicePoint, Chooser, Step};
use sim_kernel::sched::{ActorId, Granularity};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Footprint = sim_kernel::sched::exec::Footprint;
/// Which root children a search (shard) takes: `(child, all children)`.
type RootAllowed<'a> = &'a dyn Fn(usize, &[ActorId]) -> bool;
/// The sleep set of the root's chosen child (given the root).
/// The sleep set of the root's chosen child, pushed onto the last argument,
/// given the root and its first steps.
type RootSleep<'a> = &'a dyn Fn(&Node, &[FpEntry], &mut Vec<FpEntry>);

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
    /// Probabilistic concurrency testing instead of a systematic search.
    pub pct: Option<PctOptions>,
    /// `(index, count)`.
    pub shard: Option<(u32, u32)>,
    /// Told how many executions have been done (for a progress bar).
    pub progress: Progress,
    /// Record step footprints in every mode (tests and benchmarks that
    /// look at the executions' traces; the reduction records them anyway).
    pub record_steps: bool,
    /// Calls one execution may make (`--max-steps`; `None`: the file's
    /// `config max_steps=`, else [`crate::limits::DEFAULT_MAX_STEPS`]).
    pub max_steps: Option<u64>,
    /// The memory the naive count's set of seen traces may take per root
    /// child, in bytes (`None`: [`NAIVE_SEEN_BYTES`]; tests set it small).
    pub naive_seen_bytes: Option<usize>,
    /// Where actors may switch (`--granularity`; `None`: the file's
    /// `config granularity=`, else call).
    pub granularity: Option<Granularity>,
    /// `--no-named-yield-points`.
    pub no_named_yield_points: bool,
    /// `--bug NAME`: bugs re-introduced besides the file's `config bug=`
    /// lines.
    pub bugs: Vec<String>,
}

/// `--pct N --depth D --seed S`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PctOptions {
    pub count: u64,
    pub depth: u32,
    pub seed: u64,
}

/// A sink for progress: called with the number of executions finished
/// since the last call (in batches, from any search thread). Never part of
/// a report, so reports stay deterministic.
#[derive(Clone, Default)]
pub struct Progress(pub Option<Arc<dyn Fn(u64) + Send + Sync>>);

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(on)" } else { "Progress(off)" })
    }
}

/// Batches progress ticks so the sink is called rarely.
struct Ticker<'a> {
    sink: &'a Progress,
    pending: u64,
}

impl Ticker<'_> {
    fn tick(&mut self) {
        self.pending += 1;
        if self.pending >= 64 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let (Some(f), n @ 1..) = (&self.sink.0, self.pending) {
            f(n);
        }
        self.pending = 0;
    }
}

impl Drop for Ticker<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// What a PCT search guarantees (see [`PctChooser`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PctInfo {
    /// The bug depth targeted (`--depth`).
    pub depth: u32,
    /// `n`: actors that can run concurrently.
    pub actors: u64,
    /// `k`: the estimated scheduling points per execution (the most seen).
    pub steps: u64,
    /// `n * k^(depth-1)`, in decimal: each execution finds a given bug of
    /// that depth with probability at least one over this.
    pub bound_denominator: String,
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
    /// The number of executions a naive search of the whole (unsharded)
    /// schedule space needs, in decimal, where it is known exactly; `None`
    /// is "unknown" (see [`naive_count`]).
    #[serde(default)]
    pub naive_executions: Option<String>,
    /// This search's (or shard's) part of the naive count: the schedules
    /// of the traces it explored (see `NaiveCounter`); shards' shares add
    /// up to the naive count.
    #[serde(default)]
    pub naive_share: Option<String>,
    /// The root seed of a random or PCT search.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The guarantee of a PCT search.
    #[serde(default)]
    pub pct: Option<PctInfo>,
    /// The naive count stopped deduplicating traces at its memory cap
    /// ([`NAIVE_SEEN_BYTES`] per root child): `naive_share` then counts
    /// only the traces seen before the cap (a lower bound) and
    /// `naive_executions` is null. Written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub naive_capped: bool,
    /// `--time-limit` ended the search (between executions or inside one,
    /// whose partial run is not counted). Written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub time_limit_reached: bool,
    /// SIGINT or SIGTERM ended the search: the report covers the
    /// executions finished before it. Written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interrupted: bool,
    /// The granularity searched (`call` or `lock`, see `--granularity`).
    /// Written only when not `call`, so that a call-granularity report is
    /// what it was before the field existed; a report without it is a
    /// call-granularity one.
    #[serde(default = "call_granularity", skip_serializing_if = "is_call")]
    pub granularity: String,
    /// `--no-named-yield-points`: the named yield points did nothing.
    /// Written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_named_yield_points: bool,
    /// `--bug NAME`: bugs the command line re-introduced besides the
    /// file's `config bug=` lines. Written only when there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bugs: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn call_granularity() -> String {
    Granularity::Call.name().to_string()
}

fn is_call(g: &String) -> bool {
    g == Granularity::Call.name()
}

impl Report {
    /// A violation, or (for a whole search, not one shard of it) an
    /// `exists` no execution reached. A shard explores part of the tree:
    /// what it did not reach another shard may have, and `ksim merge`
    /// judges the `exists` lines over all of them, so that a shard's exit
    /// status says only whether it found a violation.
    pub fn failed(&self) -> bool {
        self.violations > 0 || (self.shard.is_none() && self.exists.iter().any(|e| !e.seen))
    }
}

/// Accumulates executions into a report.
struct Acc {
    /// Counts by [`crate::runner::Outcome::key`] (the values alone) ...
    outcomes: BTreeMap<String, u64>,
    /// ... and the names they go with (from the first execution).
    outcome_names: crate::runner::Outcome,
    cex: BTreeMap<String, Counterexample>,
    exists: Vec<ExistsResult>,
    executions: u64,
    pruned: u64,
    naive: NaiveCounter,
    /// Why the search ended early, if a limit or a signal ended it.
    time_limit_reached: bool,
    interrupted: bool,
}

/// Counts the schedules a naive search would run, from the executions a
/// reduced search explored: each execution stands for its Mazurkiewicz
/// trace (the partial order of its steps: program order, every pair of
/// dependent steps in the order they ran, and `finally` after every
/// actor's phase), and the naive search runs exactly the linearizations
/// of every trace, each once. So the naive count is the sum, over the
/// distinct traces explored, of their numbers of linear extensions. It is
/// exact when the search is complete (every trace explored) and no
/// execution stopped early; it is "unknown" otherwise, or when a trace is
/// too large to count.
#[derive(Default)]
struct NaiveCounter {
    /// The keys of the traces counted (see [`PackedOrder`] and
    /// [`NaiveCounter::add`]), in the current root child's subtree.
    seen: SeenSet,
    /// The count is `total + small`; `small` spills into `total` when it
    /// would overflow.
    total: Big,
    small: u128,
    unknown: bool,
    /// The root child whose subtree `seen` holds traces of (see
    /// [`NaiveCounter::enter_root`]).
    root: Option<ActorId>,
    /// An execution with no step (no actor, no `finally`) was counted.
    counted_empty: bool,
    /// Buffers reused across executions.
    scratch: CountScratch,
}

/// The memory the naive count's set of seen traces may take per root
/// child: past it the count stops (it is then a lower bound, and the
/// report says so). A trace's key takes a few hundred bytes, so this is
/// some hundreds of thousands of traces per root child; no shipped
/// scenario comes near it.
pub const NAIVE_SEEN_BYTES: usize = 64 << 20;

/// What a key of `words` words takes in the seen set: the words, the
/// key's hash and box, a table slot and its control byte (an estimate of
/// the allocator's and the table's overhead, the same on every machine so
/// that where the count stops is deterministic).
fn key_bytes(words: usize) -> usize {
    words * 8 + 16 + 24 + 8
}

/// [`NaiveCounter`]'s buffers, reused across executions.
#[derive(Default)]
struct CountScratch {
    /// The trace's key (see [`trace_order`]), which holds its clocks.
    key: Vec<u32>,
    /// The key as the seen set holds it.
    wide: Vec<u64>,
    /// Where each actor's clocks are in `key` (see [`ActorClocks`]).
    at: Vec<(usize, usize)>,
    /// The order, as the counting reads it.
    lattice: Lattice,
    /// The order packed, when it fits (see [`PackedOrder`]).
    packed: PackedOrder,
    /// [`explains_run`]'s cut.
    cut: Vec<usize>,
    /// [`linear_extensions`]' buffers.
    cuts: CutScratch,
}

/// Largest lattice of cuts (product of per-actor step counts plus one)
/// counted by dynamic programming.
const MAX_CUTS: u64 = 1 << 22;

/// The naive count's set of seen traces, with a memory cap.
#[derive(Default)]
struct SeenSet {
    set: std::collections::HashSet<TraceKey, KeyHash>,
    /// Bytes the set holds (keys and their table slots, as [`key_bytes`]
    /// counts them), and the most it may hold.
    bytes: usize,
    cap_bytes: usize,
    /// The set filled up in this root child's subtree: its remaining
    /// traces are not counted.
    full: bool,
    /// Some subtree filled up: the count is a lower bound.
    capped: bool,
}

impl SeenSet {
    /// Insert a trace's key: whether it is new; `None` when the set is
    /// full (the trace is not counted, nor any later one of this subtree).
    fn insert(&mut self, words: &[u64]) -> Option<bool> {
        if self.full {
            return None;
        }
        let b = key_bytes(words.len());
        if self.bytes + b > self.cap_bytes {
            self.full = true;
            self.capped = true;
            return None;
        }
        let new = self.set.insert(TraceKey::new(words));
        if new {
            self.bytes += b;
        }
        Some(new)
    }

    fn clear(&mut self) {
        self.set.clear();
        self.bytes = 0;
        self.full = false;
    }
}

impl NaiveCounter {
    fn new(cap_bytes: usize) -> NaiveCounter {
        NaiveCounter { seen: SeenSet { cap_bytes, ..Default::default() }, ..Default::default() }
    }

    /// The executions that follow are in the subtree of root child
    /// `root`. Each root child's subtree is searched on its own (its
    /// sleep set derives from the root alone) and a trace is explored in
    /// one subtree only, so the seen set starts empty in each, and where
    /// it fills up is the same whether the subtrees are searched by one
    /// thread or shared among shards.
    fn enter_root(&mut self, root: ActorId) {
        if self.root != Some(root) {
            self.root = Some(root);
            self.seen.clear();
        }
    }

    /// `races`: the race analysis of `ex` (its vector clocks, in the same
    /// order as [`trace_order`]'s, setup included), if at hand.
    #[inline(never)]
    fn add(&mut self, ex: &Execution, nactors: usize, races: Option<&RaceScratch>) {
        if self.unknown {
            return;
        }
        // Time: a wake-up by the virtual clock orders steps in a way the
        // footprints do not show, so executions that advanced the clock
        // are not counted.
        if ex.stopped || ex.virtual_ns > 0 {
            self.unknown = true;
            return;
        }
        if ex.steps.is_empty() {
            // Setup alone (its steps are not recorded): one schedule.
            if !std::mem::replace(&mut self.counted_empty, true) {
                self.add_count(1);
            }
            return;
        }
        if self.seen.full {
            // Past the cap: only whether the count would be known.
            if races.is_some_and(|r| r.info.last().is_some_and(|s| s.unexplained > 0)) {
                self.unknown = true;
            }
            return;
        }
        let ids = nactors + 2;
        let m = ex.steps.len();
        let races = races.filter(|r| {
            r.info.len() == m && r.step_vc.len() == m * r.width && r.last.len() == ids && r.count.len() == ids
        });
        let CountScratch { key, wide, at, lattice, packed, cut, cuts } = &mut self.scratch;
        if let Some(r) = races {
            if r.info.last().is_some_and(|s| s.unexplained > 0) {
                self.unknown = true;
                return;
            }
            if packed.build(r, ids, wide) {
                // A trace explored twice is rare (the reduction explores each
                // once but for sleep-set misses), so the key is copied for
                // one lookup.
                if self.seen.insert(wide) != Some(true) {
                    return;
                }
                let rows = &wide[packed.head(ids)..];
                match packed.count(rows, &mut cuts.level_packed, &mut cuts.next_packed, &mut cuts.table_packed) {
                    Packed::Count(n) => {
                        self.add_count(n);
                        return;
                    }
                    Packed::Unknown => {
                        self.unknown = true;
                        return;
                    }
                    // Exact big integers below.
                    Packed::Overflow => {}
                }
                key_from_clocks(&ex.steps, ids, r.width, &r.step_vc, key, at);
                lattice.build(&ActorClocks { ids, flat: key, at });
            } else {
                key_from_clocks(&ex.steps, ids, r.width, &r.step_vc, key, at);
                lattice.build(&ActorClocks { ids, flat: key, at });
                if self.seen.insert(generic_key(key, wide)) != Some(true) {
                    return;
                }
            }
        } else {
            let runnable = |d: usize| ex.decisions.get(d).map(|x| x.runnable.as_slice());
            let (k, chains, _) = trace_order(&ex.steps, nactors, &runnable);
            *key = k;
            key_ranges(&chains, ids, at);
            lattice.build(&ActorClocks { ids, flat: key, at });
            if !explains_run(&ex.steps, lattice, &runnable, cut) {
                self.unknown = true;
                return;
            }
            if packed.build_from(lattice, ids, wide) {
                if self.seen.insert(wide) != Some(true) {
                    return;
                }
            } else if self.seen.insert(generic_key(key, wide)) != Some(true) {
                return;
            }
        }
        match linear_extensions(lattice, cuts) {
            Some(n) => self.total.add(&n),
            None => self.unknown = true,
        }
    }

    fn add_count(&mut self, n: u64) {
        let n = n as u128;
        match self.small.checked_add(n) {
            Some(x) => self.small = x,
            None => {
                self.total.add(&Big::from_u128(self.small));
                self.small = n;
            }
        }
    }

    fn result(&self) -> Option<String> {
        (!self.unknown).then(|| {
            let mut t = self.total.clone();
            t.add(&Big::from_u128(self.small));
            t.to_string()
        })
    }
}

/// The seen-set key of an order too large to pack: [`trace_order`]'s key,
/// tagged apart from [`PackedOrder`]'s.
fn generic_key<'a>(key: &[u32], wide: &'a mut Vec<u64>) -> &'a [u64] {
    wide.clear();
    wide.push(1);
    wide.extend(key.iter().map(|&x| x as u64));
    wide
}

/// A key in the seen set, with its hash: a multiply-rotate hash of its
/// words, computed once (growing the set moves keys without hashing them
/// again). The set is only asked whether it holds a key, never listed, so
/// no order depends on the hash.
#[derive(PartialEq, Eq)]
struct TraceKey {
    hash: u64,
    words: Box<[u64]>,
}

impl TraceKey {
    fn new(words: &[u64]) -> TraceKey {
        let mut h: u64 = 0;
        for &x in words {
            h = (h.rotate_left(23) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        TraceKey { hash: h ^ (h >> 31), words: words.into() }
    }
}

impl std::hash::Hash for TraceKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The seen set's hasher: a [`TraceKey`]'s hash as it is.
#[derive(Clone, Copy, Default)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `TraceKey`; any other input is still hashed.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
}

/// The order over the steps packed for counting: with at most 8 actors,
/// each with at most 127 steps, a cut (a position per actor) fits a `u64`,
/// a byte per actor, and so does what a step needs done before it (per
/// actor, how many of its steps; its own actor and setup: zero). Whether
/// a cut reaches a need is then a few word operations.
///
/// The packed order is its trace's key: a zero tag, the actors' numbers of
/// steps, then the rows (together every step's clock).
#[derive(Default)]
struct PackedOrder {
    /// Per actor with steps: `(actor, its number of steps, where its
    /// steps' needs start in the rows)`.
    active: Vec<(usize, usize, usize)>,
}

/// Every byte's high bit: `((cut | HIGH) - need) & HIGH == HIGH` when
/// every byte of `cut` is at least `need`'s (bytes below 128: no borrow
/// crosses a byte).
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether [`PackedOrder`] can hold an order over `ids` actors.
fn packs(ids: usize) -> bool {
    ids <= 8
}

/// A step's need in [`PackedOrder`]'s form, from its clock `c` (actor `a`'s).
#[inline]
fn pack_need(a: usize, c: &[u32]) -> u64 {
    let mut bytes = [0u8; 8];
    for (d, &x) in bytes.iter_mut().zip(c) {
        *d = x as u8;
    }
    u64::from_le_bytes(bytes) & !0xff & !(0xff << (8 * a))
}

/// What [`PackedOrder::count`] found.
enum Packed {
    Count(u64),
    /// The count does not fit a `u64`.
    Overflow,
    /// Too many cuts, or an order no run can follow.
    Unknown,
}

impl PackedOrder {
    /// Pack the order of the steps the race analysis `r` saw (their needs
    /// are in `r.info`) into `key`; false if it does not fit.
    fn build(&mut self, r: &RaceScratch, ids: usize, key: &mut Vec<u64>) -> bool {
        if !self.layout(ids, |b| r.count[b] as usize, key) {
            return false;
        }
        // Each actor's steps, from its latest back.
        let head = self.head(ids);
        for &(b, n, s) in &self.active {
            let rows = &mut key[head + s..head + s + n];
            let mut j = r.last[b];
            for row in rows.iter_mut().rev() {
                let x = &r.info[j as usize];
                *row = x.need;
                j = x.prev;
            }
        }
        true
    }

    /// [`PackedOrder::build`] from a [`Lattice`] over `ids` actors.
    fn build_from(&mut self, l: &Lattice, ids: usize, key: &mut Vec<u64>) -> bool {
        let count = |b: usize| l.active.iter().position(|&a| a == b).map_or(0, |i| l.rows[i].1);
        if !self.layout(ids, count, key) {
            return false;
        }
        let head = self.head(ids);
        for (i, &(_, n, start)) in self.active.iter().enumerate() {
            for p in 0..n {
                let need = l.need(i, p).unwrap_or_default();
                key[head + start + p] = need.iter().zip(&l.active).map(|(&x, &b)| (x as u64) << (8 * b)).sum();
            }
        }
        true
    }

    /// Where the rows start in the key.
    fn head(&self, ids: usize) -> usize {
        1 + ids
    }

    /// Lay out the key for actors `1..ids` with `count(b)` steps each: its
    /// head, and rows all zero but each actor's last, one past its steps
    /// that no cut reaches.
    fn layout(&mut self, ids: usize, count: impl Fn(usize) -> usize, key: &mut Vec<u64>) -> bool {
        if !packs(ids) {
            return false;
        }
        self.active.clear();
        key.clear();
        key.push(0);
        key.push(0);
        let mut rows = 0;
        for b in 1..ids {
            let n = count(b);
            if n > 127 {
                return false;
            }
            key.push(n as u64);
            if n > 0 {
                self.active.push((b, n, rows));
                rows += n + 1;
            }
        }
        let head = key.len();
        key.resize(head + rows, 0);
        for &(b, n, start) in &self.active {
            key[head + start + n] = 0x80 << (8 * b);
        }
        true
    }

    /// [`count_cuts`] over the packed order (`rows`: the key's past its
    /// head); `f` is all zero on entry and is left all zero.
    fn count(
        &self,
        rows: &[u64],
        level: &mut Vec<(usize, u64)>,
        next: &mut Vec<(usize, u64)>,
        f: &mut Vec<u64>,
    ) -> Packed {
        // An actor whose first step needs every step of every other one
        // (`finally`, mostly) runs last in every linearization: it adds
        // none, and is left out.
        let all: u64 = self.active.iter().map(|&(b, n, _)| (n as u64) << (8 * b)).sum();
        let last = self.active.iter().position(|&(b, n, s)| rows[s] == all - ((n as u64) << (8 * b)));
        // Per actor counted: its byte's shift, where its needs start, and
        // its weight in a cut's index.
        let mut shift = [0u32; 8];
        let mut start = [0usize; 8];
        let mut radix = [0usize; 8];
        let mut steps = [0usize; 8];
        let mut w = 0;
        let mut size: u64 = 1;
        for (i, &(b, n, s)) in self.active.iter().enumerate() {
            if Some(i) == last {
                continue;
            }
            (shift[w], start[w], radix[w], steps[w]) = (8 * b as u32, s, size as usize, n);
            w += 1;
            size = match size.checked_mul(n as u64 + 1) {
                Some(s) => s,
                None => return Packed::Unknown,
            };
        }
        if w == 2 {
            return count_two(
                &rows[start[0]..start[0] + steps[0]],
                shift[1],
                &rows[start[1]..start[1] + steps[1]],
                shift[0],
            );
        }
        // Narrow orders (the usual) without the table: a level's cuts are
        // few, and are told apart by their value.
        let full_cut: u64 = (0..w).map(|i| (steps[i] as u64) << shift[i]).sum();
        if let Some(r) = count_narrow(rows, &shift[..w], &start[..w], full_cut, level, next) {
            return r;
        }
        if size > MAX_CUTS {
            return Packed::Unknown;
        }
        let size = size as usize;
        if f.len() < size {
            f.resize(size, 0);
        }
        let full = size - 1;
        level.clear();
        level.push((0, 0));
        f[0] = 1;
        loop {
            next.clear();
            for &(idx, cut) in level.iter() {
                let here = std::mem::take(&mut f[idx]);
                if idx == full {
                    debug_assert!(level.len() == 1);
                    return Packed::Count(here);
                }
                let reach = cut | HIGH;
                for i in 0..w {
                    let need = rows[start[i] + ((cut >> shift[i]) & 0xff) as usize];
                    if (reach - need) & HIGH != HIGH {
                        continue;
                    }
                    let t = idx + radix[i];
                    let was = f[t];
                    match was.checked_add(here) {
                        Some(x) => f[t] = x,
                        None => {
                            // Leave the table clean for the next call.
                            for &(x, _) in level.iter().chain(next.iter()) {
                                f[x] = 0;
                            }
                            return Packed::Overflow;
                        }
                    }
                    if was == 0 {
                        next.push((t, cut + (1 << shift[i])));
                    }
                }
            }
            if next.is_empty() {
                return Packed::Unknown;
            }
            std::mem::swap(level, next);
        }
    }
}

/// The widest level [`count_narrow`] handles.
const NARROW: usize = 16;

/// [`PackedOrder::count`] a level at a time, each level's cuts in a short
/// list (`level`, `next`: `(cut, runs to it)`); `None` if a level has more
/// than [`NARROW`] cuts (the table is then faster).
fn count_narrow(
    rows: &[u64],
    shift: &[u32],
    start: &[usize],
    full: u64,
    level: &mut Vec<(usize, u64)>,
    next: &mut Vec<(usize, u64)>,
) -> Option<Packed> {
    // Here `(runs, cut)` in the buffers' `(usize, u64)`.
    level.clear();
    level.push((1, 0));
    loop {
        if let [(here, cut)] = level[..] {
            if cut == full {
                return Some(Packed::Count(here as u64));
            }
        }
        next.clear();
        for &(here, cut) in level.iter() {
            let reach = cut | HIGH;
            for (&sh, &st) in shift.iter().zip(start) {
                let need = rows[st + ((cut >> sh) & 0xff) as usize];
                if (reach - need) & HIGH != HIGH {
                    continue;
                }
                let t = cut + (1 << sh);
                match next.iter().position(|&(_, c)| c == t) {
                    Some(i) => match next[i].0.checked_add(here) {
                        Some(x) => next[i].0 = x,
                        None => return Some(Packed::Overflow),
                    },
                    None if next.len() < NARROW => next.push((here, t)),
                    None => return None,
                }
            }
        }
        if next.is_empty() {
            return Some(Packed::Unknown);
        }
        std::mem::swap(level, next);
    }
}

/// [`PackedOrder::count`] of two actors: `a`'s steps' needs (of the other
/// actor's steps, at byte `a_other`) and `b`'s (at `b_other`). A cut is
/// `(i, j)`; it is a state of some run when `a`'s step `i - 1` needs at
/// most `j` and `b`'s step `j - 1` at most `i`. Rows of cuts by `i`; in
/// each, the `j` from what `a`'s last step needs to what `b`'s steps allow.
fn count_two(a: &[u64], a_other: u32, b: &[u64], b_other: u32) -> Packed {
    let need_a = |i: usize| ((a[i] >> a_other) & 0xff) as usize;
    let need_b = |j: usize| ((b[j] >> b_other) & 0xff) as usize;
    let (na, nb) = (a.len(), b.len());
    // f[j]: the runs to cut (i, j) of the current row; zero outside the
    // row's range.
    let mut f = [0u64; 128];
    let mut hi = 0;
    // Row 0: b's steps that need none of a's.
    while hi < nb && need_b(hi) == 0 {
        hi += 1;
    }
    f[..=hi].fill(1);
    let mut lo = 0;
    for i in 1..=na {
        // a's step i - 1 needs `need_a(i - 1)` of b's: the cuts below drop out.
        let new_lo = need_a(i - 1);
        if new_lo > hi {
            return Packed::Unknown;
        }
        f[lo..new_lo].fill(0);
        lo = new_lo;
        // b's steps that need at most i of a's.
        let old_hi = hi;
        while hi < nb && need_b(hi) <= i {
            hi += 1;
        }
        // f[j] (this row) = f[j] (the row above, zero past old_hi) +
        // f[j - 1] (this row, zero below lo).
        f[old_hi + 1..=hi].fill(0);
        for j in lo.max(1)..=hi {
            match f[j].checked_add(f[j - 1]) {
                Some(x) => f[j] = x,
                None => return Packed::Overflow,
            }
        }
    }
    if hi != nb || lo > nb {
        return Packed::Unknown;
    }
    Packed::Count(f[nb])
}

/// Per actor, the vector clocks of its steps in program order, all in one
/// buffer: actor `a`'s are `flat[at[a].0..at[a].1]`, `ids` numbers each
/// (`vc[b]` = how many of actor `b`'s steps happen before the step; its
/// own actor: its index + 1).
#[derive(Clone, Copy)]
struct ActorClocks<'a> {
    ids: usize,
    flat: &'a [u32],
    at: &'a [(usize, usize)],
}

impl<'a> ActorClocks<'a> {
    /// Actor `a`'s number of steps.
    fn steps(&self, a: usize) -> usize {
        (self.at[a].1 - self.at[a].0) / self.ids
    }

    /// The clock of actor `a`'s step `i`, if it has one.
    #[inline]
    fn clock(&self, a: usize, i: usize) -> Option<&'a [u32]> {
        let (start, end) = self.at[a];
        let s = start + i * self.ids;
        self.flat.get(s..s + self.ids).filter(|_| s < end)
    }
}

/// An order over the steps as [`explains_run`] and [`count_cuts`] read it:
/// the actors with steps (`active`; the others add nothing to a cut), and
/// for each one's each step, how many steps of every active actor must be
/// done before it (its own: zero).
#[derive(Default)]
struct Lattice {
    active: Vec<usize>,
    /// Per active actor: where its steps' rows start in `need` (in rows),
    /// and how many it has.
    rows: Vec<(usize, usize)>,
    /// One row of `active.len()` numbers per step.
    need: Vec<u32>,
}

impl Lattice {
    fn build(&mut self, clocks: &ActorClocks<'_>) {
        self.active.clear();
        self.active.extend((0..clocks.at.len()).filter(|a| clocks.steps(*a) > 0));
        self.rows.clear();
        self.need.clear();
        let mut row = 0;
        for &a in &self.active {
            let n = clocks.steps(a);
            self.rows.push((row, n));
            row += n;
            for p in 0..n {
                let vc = clocks.clock(a, p).unwrap_or_default();
                self.need.extend(self.active.iter().map(|&b| if b == a { 0 } else { vc[b] }));
            }
        }
    }

    /// What step `p` of the `i`th active actor needs done, if it has one.
    #[inline]
    fn need(&self, i: usize, p: usize) -> Option<&[u32]> {
        let (start, n) = self.rows[i];
        let w = self.active.len();
        (p < n).then(|| &self.need[(start + p) * w..(start + p + 1) * w])
    }
}

/// Whether every position of `cut` reaches what `need` asks.
#[inline]
fn reached(need: &[u32], cut: &[usize]) -> bool {
    need.iter().zip(cut).all(|(n, c)| *n as usize <= *c)
}

/// [`trace_order`]'s key from clocks already computed over every step
/// (setup's included: its component is dropped, it precedes everything),
/// and where each actor's clocks are in it (see [`ActorClocks`]).
fn key_from_clocks(
    steps: &[Step],
    ids: usize,
    width: usize,
    step_vc: &[u32],
    key: &mut Vec<u32>,
    at: &mut Vec<(usize, usize)>,
) {
    // Per actor, its number of steps; then where its clocks go: after a
    // marker naming the actor.
    at.clear();
    at.resize(ids, (0, 0));
    for s in steps.iter().filter(|s| s.actor != 0 && s.actor < ids) {
        at[s.actor].1 += 1;
    }
    let mut p = 0;
    for r in at.iter_mut() {
        let n = r.1;
        *r = (p + 1, p + 1);
        p += 1 + n * ids;
    }
    key.clear();
    key.resize(p, 0);
    for (a, r) in at.iter().enumerate() {
        key[r.0 - 1] = u32::MAX - a as u32;
    }
    // Each step's clock with the setup component zeroed; `at[a].1` is the
    // end of actor a's clocks so far.
    for (s, c) in steps.iter().zip(step_vc.chunks_exact(width)) {
        if s.actor == 0 || s.actor >= ids {
            continue;
        }
        let end = &mut at[s.actor].1;
        key[*end + 1..*end + ids].copy_from_slice(&c[1..ids]);
        *end += ids;
    }
}

/// Where each actor's clocks are in a key laid out by [`trace_order`],
/// from the actors' numbers of steps.
fn key_ranges(chains: &[usize], ids: usize, at: &mut Vec<(usize, usize)>) {
    at.clear();
    let mut p = 0;
    for &n in chains {
        at.push((p + 1, p + 1 + n * ids));
        p += 1 + n * ids;
    }
}

/// The happens-before order of an execution's steps (setup excluded: it
/// runs alone). Returns a key identifying the trace (every step's vector
/// clock, per actor in program order), each actor's number of steps, and
/// per actor the vector clocks of its steps: `vc[b]` = how many of actor
/// `b`'s steps happen before it (its own actor: its index + 1).
#[allow(clippy::type_complexity)]
pub fn trace_order<'a>(
    steps: &[Step],
    nactors: usize,
    runnable: &dyn Fn(usize) -> Option<&'a [ActorId]>,
) -> (Vec<u32>, Vec<usize>, Vec<Vec<Vec<u32>>>) {
    let ids = nactors + 2;
    let mut woke = Vec::new();
    wakers(steps, ids, runnable, &mut woke, &mut Vec::new());
    let finally_id = nactors + 1;
    let mut actor_vc: Vec<Vec<u32>> = vec![vec![0; ids]; ids];
    let mut step_vc: Vec<Option<Vec<u32>>> = Vec::with_capacity(steps.len());
    let mut finally_started = false;
    let mut per_actor: Vec<Vec<Vec<u32>>> = vec![Vec::new(); ids];
    for (k, s) in steps.iter().enumerate() {
        let a = s.actor;
        if a == 0 || a >= ids {
            step_vc.push(None);
            continue;
        }
        let mut c = actor_vc[a].clone();
        if a == finally_id && !finally_started {
            finally_started = true;
            for v in &actor_vc {
                for (x, y) in c.iter_mut().zip(v) {
                    *x = (*x).max(*y);
                }
            }
        }
        for j in 0..k {
            if let Some(vj) = &step_vc[j] {
                if steps[j].actor != a && (steps[j].dependent(s) || woke[k] == Some(j)) {
                    for (x, y) in c.iter_mut().zip(vj) {
                        *x = (*x).max(*y);
                    }
                }
            }
        }
        c[a] += 1;
        actor_vc[a] = c.clone();
        per_actor[a].push(c.clone());
        step_vc.push(Some(c));
    }
    let chains: Vec<usize> = per_actor.iter().map(Vec::len).collect();
    let mut key = Vec::new();
    for (a, v) in per_actor.iter().enumerate() {
        key.push(u32::MAX - a as u32);
        for c in v {
            key.extend_from_slice(c);
        }
    }
    (key, chains, per_actor)
}

/// Whether, at every step of the execution the order came from, every
/// actor whose next step the order allows (every predecessor done) could
/// actually run. If not, the footprints miss an ordering (a wake-up they
/// do not show) and counting linearizations would be a guess.
pub fn order_explains_run<'a>(
    steps: &[Step],
    nactors: usize,
    vcs: &[Vec<u32>],
    runnable: &dyn Fn(usize) -> Option<&'a [ActorId]>,
) -> bool {
    let ids = nactors + 2;
    let (flat, at) = concat_clocks(vcs);
    let mut order = Lattice::default();
    order.build(&ActorClocks { ids, flat: &flat, at: &at });
    explains_run(steps, &order, runnable, &mut Vec::new())
}

/// Per-actor flat clocks in one buffer (see [`ActorClocks`]).
fn concat_clocks(vcs: &[Vec<u32>]) -> (Vec<u32>, Vec<(usize, usize)>) {
    let mut at = Vec::with_capacity(vcs.len());
    for v in vcs {
        let start = at.last().map_or(0, |r: &(usize, usize)| r.1);
        at.push((start, start + v.len()));
    }
    (vcs.concat(), at)
}

/// [`order_explains_run`] over a [`Lattice`]; `cut` is a buffer.
fn explains_run<'a>(
    steps: &[Step],
    order: &Lattice,
    runnable: &dyn Fn(usize) -> Option<&'a [ActorId]>,
    cut: &mut Vec<usize>,
) -> bool {
    cut.clear();
    cut.resize(order.active.len(), 0);
    for s in steps {
        // Setup's steps (and any of an actor the order does not know) are
        // not in the order.
        let Some(i) = order.active.iter().position(|&a| a == s.actor).filter(|_| s.actor != 0) else { continue };
        let r: &[ActorId] = match s.decision.and_then(runnable) {
            Some(r) => r,
            None => std::slice::from_ref(&s.actor),
        };
        // Every step the order allows next must be one that could run
        // (an actor the order leaves out may run, making another trace).
        for (j, &b) in order.active.iter().enumerate() {
            if order.need(j, cut[j]).is_some_and(|need| reached(need, cut)) && !r.contains(&b) {
                return false;
            }
        }
        cut[i] += 1;
    }
    true
}

/// The number of linear extensions of the order, by dynamic programming
/// over its cuts (a vector of per-actor positions; a step can be added to
/// a cut when every step before it is in). `None` when the lattice of
/// cuts is too large.
pub fn linear_extensions_string(chains: &[usize], vcs: &[Vec<Vec<u32>>]) -> Option<String> {
    debug_assert!(chains.iter().zip(vcs).all(|(n, v)| *n == v.len()));
    let flat: Vec<Vec<u32>> = vcs.iter().map(|v| v.concat()).collect();
    let (flat, at) = concat_clocks(&flat);
    let ids = vcs.len();
    let mut order = Lattice::default();
    order.build(&ActorClocks { ids, flat: &flat, at: &at });
    linear_extensions(&order, &mut CutScratch::default()).map(|b| b.to_string())
}

/// [`linear_extensions`]' buffers.
#[derive(Default)]
struct CutScratch {
    /// Per active actor, the weight of its position in a cut's index.
    radix: Vec<usize>,
    /// The cuts of one level and of the next (see [`count_cuts`]).
    level: Vec<usize>,
    next: Vec<usize>,
    /// [`count_cuts`]' table of `u128` counts, kept all zero between
    /// calls (so no execution allocates or clears one).
    table: Vec<u128>,
    /// [`PackedOrder::count`]'s levels: `(index, cut)`.
    level_packed: Vec<(usize, u64)>,
    next_packed: Vec<(usize, u64)>,
    /// [`PackedOrder::count`]'s table, kept all zero like `table`.
    table_packed: Vec<u64>,
}

/// [`linear_extensions_string`]'s count.
fn linear_extensions(order: &Lattice, sc: &mut CutScratch) -> Option<Big> {
    sc.radix.clear();
    let mut size: u64 = 1;
    for &(_, n) in &order.rows {
        sc.radix.push(size as usize);
        size = size.checked_mul(n as u64 + 1)?;
    }
    if size > MAX_CUTS {
        return None;
    }
    // u128 counts first (no allocation); exact big integers only if they
    // overflow.
    let size = size as usize;
    if sc.table.len() < size {
        sc.table.resize(size, 0);
    }
    let CutScratch { radix, level, next, table, .. } = sc;
    match count_cuts::<u128>(order, radix, &mut table[..size], level, next) {
        Some(n) => Some(Big::from_u128(n)),
        None => count_cuts::<Big>(order, radix, &mut vec![Big::zero(); size], level, next),
    }
}

/// A count for [`count_cuts`]: `u128` (fails on overflow) or [`Big`].
trait Count: Clone {
    fn zero() -> Self;
    fn one() -> Self;
    fn is_zero(&self) -> bool;
    /// `self += o`; false on overflow.
    fn add_to(&mut self, o: &Self) -> bool;
}

impl Count for u128 {
    fn zero() -> Self {
        0
    }
    fn one() -> Self {
        1
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
    fn add_to(&mut self, o: &Self) -> bool {
        match self.checked_add(*o) {
            Some(x) => {
                *self = x;
                true
            }
            None => false,
        }
    }
}

impl Count for Big {
    fn zero() -> Self {
        Big::default()
    }
    fn one() -> Self {
        Big::one()
    }
    fn is_zero(&self) -> bool {
        self.0.iter().all(|l| *l == 0)
    }
    fn add_to(&mut self, o: &Self) -> bool {
        self.add(o);
        true
    }
}

/// Paths through the lattice of cuts, forward: `f[cut]` is the number of
/// ways to run exactly the steps of `cut`. A cut is a position per actor
/// of the order; its index in `f` is its positions in mixed radix
/// (`radix`). `f` is all zero on entry and is left all zero. Only the cuts
/// reachable from the empty one are visited, a level (number of steps in
/// the cut) at a time: a cut's successors are on the next level, so a
/// level is complete before it is read. `level` and `next` are buffers:
/// each holds records `[index, positions...]`.
fn count_cuts<C: Count>(
    order: &Lattice,
    radix: &[usize],
    f: &mut [C],
    level: &mut Vec<usize>,
    next: &mut Vec<usize>,
) -> Option<C> {
    let width = order.active.len() + 1;
    let full = f.len() - 1;
    level.clear();
    level.resize(width, 0);
    f[0] = C::one();
    loop {
        next.clear();
        let mut overflow = false;
        'level: for rec in level.chunks_exact(width) {
            let (idx, cut) = (rec[0], &rec[1..]);
            let here = std::mem::replace(&mut f[idx], C::zero());
            if idx == full {
                debug_assert!(level.len() == width);
                return Some(here);
            }
            for (i, &r) in radix.iter().enumerate() {
                if !order.need(i, cut[i]).is_some_and(|need| reached(need, cut)) {
                    continue;
                }
                let t = idx + r;
                let was_zero = f[t].is_zero();
                if !f[t].add_to(&here) {
                    overflow = true;
                    break 'level;
                }
                if was_zero {
                    next.push(t);
                    next.extend_from_slice(cut);
                    let l = next.len();
                    next[l - width + 1 + i] += 1;
                }
            }
        }
        if overflow {
            // Leave the table clean for the next call.
            for rec in level.chunks_exact(width).chain(next.chunks_exact(width)) {
                f[rec[0]] = C::zero();
            }
            return None;
        }
        if next.is_empty() {
            return None;
        }
        std::mem::swap(level, next);
    }
}

/// A small unsigned big integer (base 10^9 limbs, least significant
/// first): enough for multinomials and PCT bounds.
#[derive(Clone, Debug, Default)]
struct Big(Vec<u64>);

const LIMB: u64 = 1_000_000_000;

impl Big {
    fn one() -> Big {
        Big(vec![1])
    }

    fn from_u128(mut n: u128) -> Big {
        let mut v = Vec::new();
        while n > 0 {
            v.push((n % LIMB as u128) as u64);
            n /= LIMB as u128;
        }
        Big(v)
    }

    fn add(&mut self, o: &Big) {
        let mut carry = 0;
        for i in 0..self.0.len().max(o.0.len()) {
            if i == self.0.len() {
                self.0.push(0);
            }
            let v = self.0[i] + o.0.get(i).copied().unwrap_or(0) + carry;
            self.0[i] = v % LIMB;
            carry = v / LIMB;
        }
        if carry > 0 {
            self.0.push(carry);
        }
    }

    fn mul_small(&mut self, m: u64) {
        let mut carry: u128 = 0;
        for l in self.0.iter_mut() {
            let v = *l as u128 * m as u128 + carry;
            *l = (v % LIMB as u128) as u64;
            carry = v / LIMB as u128;
        }
        while carry > 0 {
            self.0.push((carry % LIMB as u128) as u64);
            carry /= LIMB as u128;
        }
    }
}

impl Big {
    /// Parse a decimal string.
    fn parse(s: &str) -> Option<Big> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut b = Big(vec![0]);
        for d in s.bytes() {
            b.mul_small(10);
            b.add(&Big(vec![(d - b'0') as u64]));
        }
        Some(b)
    }
}

impl fmt::Display for Big {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut it = self.0.iter().rev().skip_while(|l| **l == 0).peekable();
        if it.peek().is_none() {
            return f.write_str("0");
        }
        write!(f, "{}", it.next().unwrap_or(&0))?;
        for l in it {
            write!(f, "{l:09}")?;
        }
        Ok(())
    }
}

impl Acc {
    fn new(prog: &Program, o: &ExploreOptions) -> Acc {
        Acc {
            outcomes: BTreeMap::new(),
            outcome_names: Default::default(),
            cex: BTreeMap::new(),
            exists: prog
                .checks
                .iter()
                .filter(|c| c.kind == CheckKind::Exists)
                .map(|c| ExistsResult { check: c.text.clone(), line: c.span.line, seen: false, schedule: None })
                .collect(),
            executions: 0,
            pruned: 0,
            naive: NaiveCounter::new(o.naive_seen_bytes.unwrap_or(NAIVE_SEEN_BYTES)),
            time_limit_reached: false,
            interrupted: false,
        }
    }

    fn add(&mut self, ex: &Execution) {
        self.executions += 1;
        match self.outcomes.get_mut(ex.outcome.key()) {
            Some(n) => *n += 1,
            None => {
                self.outcomes.insert(ex.outcome.key().to_string(), 1);
                if self.outcome_names.is_empty() {
                    self.outcome_names = ex.outcome.clone();
                }
            }
        }
        // The schedule string only when something needs it.
        let needs = !ex.violations.is_empty()
            || ex
                .checks
                .iter()
                .filter(|c| c.kind == CheckKind::Exists)
                .zip(&self.exists)
                .any(|(c, e)| c.value == Ok(true) && !e.seen);
        if !needs {
            return;
        }
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
            granularity: o.granularity.or(prog.config.granularity).unwrap_or_default().name().to_string(),
            no_named_yield_points: o.no_named_yield_points,
            bugs: o.bugs.clone(),
            shard: o.shard.map(|(i, n)| format!("{i}/{n}")),
            violations: self.cex.len() as u64,
            // Ordered by the name-sorted values, as `merge` orders them, so
            // that a merged or parallel report is byte-identical.
            outcomes: self
                .outcomes
                .into_iter()
                .map(|(k, count)| {
                    let o = self.outcome_names.with_key(&k);
                    (o.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(), count)
                })
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|(values, count)| Outcome { values, count })
                .collect(),
            exists: self.exists,
            counterexamples: self.cex.into_values().collect(),
            naive_executions: None,
            naive_share: self.naive.result(),
            seed: None,
            pct: None,
            naive_capped: self.naive.seen.capped,
            time_limit_reached: self.time_limit_reached,
            interrupted: self.interrupted,
        }
    }

    /// Whether the search must stop before its next execution: the
    /// interrupt flag, the deadline, `--max-executions` (noting which).
    fn out_of_budget(&mut self, o: &ExploreOptions, deadline: Option<Instant>) -> bool {
        if crate::limits::interrupted() {
            self.interrupted = true;
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            self.time_limit_reached = true;
        }
        self.interrupted || self.time_limit_reached || o.max_executions.is_some_and(|m| self.executions >= m)
    }

    /// An execution was cut off unfinished: it is not counted, and the
    /// search ends.
    fn cut(&mut self, c: crate::runner::Cut) {
        match c {
            crate::runner::Cut::TimeLimit => self.time_limit_reached = true,
            crate::runner::Cut::Interrupted => self.interrupted = true,
        }
    }
}

/// Fill in `naive_executions` where it is known exactly: a complete naive
/// search of the whole space counted it; a complete reduced search counts
/// the schedules of the traces it explored (`NaiveCounter`).
fn set_naive(r: &mut Report) {
    if r.mode == "naive" && r.preemption_bound.is_none() {
        r.naive_share = Some(r.executions.to_string());
    }
    r.naive_executions = if !r.complete || r.shard.is_some() || r.preemption_bound.is_some() || r.naive_capped {
        None
    } else {
        r.naive_share.clone()
    };
}

/// Order counterexamples: fewest preemptions, then shortest schedule, then
/// the schedule text (deterministic whatever the search order).
fn better(a: &Counterexample, b: &Counterexample) -> bool {
    (a.preemptions, a.schedule.len(), &a.schedule) < (b.preemptions, b.schedule.len(), &b.schedule)
}

/// A few actors, inline (no allocation for most decisions).
type Actors = smallvec::SmallVec<[ActorId; 6]>;

/// A footprint kept in [`Fps::words`].
#[derive(Clone, Copy, Debug, Default)]
struct FpRef {
    start: u32,
    len: u32,
}

/// An actor and the footprint of its next step (a sleeper), or of the
/// first step it took after a decision.
type FpEntry = (ActorId, FpRef);

/// The footprints the search keeps, for every node on the current path:
/// each node's sleepers, and the first step after each choice it has
/// explored. A node's are added after its parent's and before its
/// children's (see [`DfsChooser::record_first`]), so popping a node
/// truncates them to where it began: no footprint is copied or freed one
/// by one.
#[derive(Default)]
struct Fps {
    /// The footprints' accesses.
    words: Vec<(u64, bool)>,
    /// Per node, its first steps (see [`Node::first`]).
    first: Vec<FpEntry>,
    /// Per node, its sleepers (see [`Node::sleep`]).
    sleep: Vec<FpEntry>,
}

impl Fps {
    fn fp(&self, r: FpRef) -> &[(u64, bool)] {
        &self.words[r.start as usize..(r.start + r.len) as usize]
    }

    fn push(&mut self, fp: &[(u64, bool)]) -> FpRef {
        let r = FpRef { start: self.words.len() as u32, len: fp.len() as u32 };
        self.words.extend_from_slice(fp);
        r
    }
}

/// One decision on the current search path.
#[derive(Clone, Debug)]
struct Node {
    enabled: Actors,
    /// `enabled` as an [`actor_mask`] (when [`masks`]).
    mask: u64,
    prev: Option<ActorId>,
    prev_runnable: bool,
    chosen: ActorId,
    /// Alternatives to explore here, in order.
    backtrack: Actors,
    done: Actors,
    /// Actors asleep here, their next step covered elsewhere:
    /// `fps.sleep[sleep.0..sleep.1]`.
    sleep: (u32, u32),
    /// Where the footprints of the first step after each explored choice
    /// start in `fps.first` (they end where the next node's start).
    first: u32,
    /// `fps.words`'s length when the node was made.
    words: u32,
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

/// The entries of node `i`'s first steps.
fn first_of<'a>(stack: &[Node], fps: &'a Fps, i: usize) -> &'a [FpEntry] {
    let end = stack.get(i + 1).map_or(fps.first.len(), |n| n.first as usize);
    &fps.first[stack[i].first as usize..end]
}

/// The sleepers of node `n`.
fn sleepers<'a>(n: &Node, fps: &'a Fps) -> &'a [FpEntry] {
    &fps.sleep[n.sleep.0 as usize..n.sleep.1 as usize]
}

/// Cut the path to its first `len` nodes, with their footprints.
fn truncate_path(stack: &mut Vec<Node>, fps: &mut Fps, len: usize) {
    if let Some(n) = stack.get(len) {
        fps.first.truncate(n.first as usize);
        fps.sleep.truncate(n.sleep.0 as usize);
        fps.words.truncate(n.words as usize);
        stack.truncate(len);
    }
}

/// The chooser that replays the current path and extends it.
struct DfsChooser<'a> {
    stack: &'a mut Vec<Node>,
    fps: &'a mut Fps,
    mode: Mode,
    bound: Option<u32>,
    /// Root children this search may take (sharding), in root order.
    root_allowed: RootAllowed<'a>,
    /// Sleep entries for the root's children, computed by the driver.
    root_sleep: RootSleep<'a>,
    pruned: bool,
    /// This shard has no root child: the search is empty.
    empty_shard: bool,
}

impl DfsChooser<'_> {
    /// Push the sleep set in force after the decision `i - 1` on the
    /// current path onto `fps.sleep`: its node's sleepers and its
    /// earlier-explored siblings, less those a step since that decision
    /// depends on. Returns where it is.
    fn child_sleep(&mut self, i: usize) -> (u32, u32) {
        let start = self.fps.sleep.len();
        if self.mode == Mode::Naive || i == 0 {
            return (start as u32, start as u32);
        }
        let parent = &self.stack[i - 1];
        if i == 1 {
            let Fps { first, sleep, .. } = &mut *self.fps;
            let end = self.stack.get(1).map_or(first.len(), |n| n.first as usize);
            (self.root_sleep)(parent, &first[parent.first as usize..end], sleep);
        } else {
            let Fps { first, sleep, .. } = &mut *self.fps;
            let (s0, s1) = parent.sleep;
            sleep.extend_from_within(s0 as usize..s1 as usize);
            let end = self.stack.get(i).map_or(first.len(), |n| n.first as usize);
            for &(a, fp) in &first[parent.first as usize..end] {
                if parent.done.contains(&a) && a != parent.chosen && !sleep[start..].iter().any(|(b, _)| *b == a) {
                    sleep.push((a, fp));
                }
            }
        }
        let Fps { words, sleep, .. } = &mut *self.fps;
        let mut kept = start;
        with_steps_since(parent.step_at, |since| {
            for x in start..sleep.len() {
                let (a, r) = sleep[x];
                let fp = &words[r.start as usize..(r.start + r.len) as usize];
                if !since.iter().any(|s| s.actor == a || footprints_conflict(&s.accesses[..], fp)) {
                    sleep[kept] = (a, r);
                    kept += 1;
                }
            }
        });
        sleep.truncate(kept);
        (start as u32, kept as u32)
    }

    /// Whether `actor` is in [`DfsChooser::child_sleep`]`(i)`, without
    /// building the set.
    #[inline(never)]
    fn asleep(&mut self, i: usize, actor: ActorId) -> bool {
        if self.mode == Mode::Naive || i == 0 {
            return false;
        }
        if i == 1 {
            let (s0, s1) = self.child_sleep(i);
            let found = self.fps.sleep[s0 as usize..s1 as usize].iter().any(|(a, _)| *a == actor);
            self.fps.sleep.truncate(s0 as usize);
            return found;
        }
        let parent = &self.stack[i - 1];
        let fp = match sleepers(parent, self.fps).iter().find(|(a, _)| *a == actor) {
            Some(&(_, fp)) => fp,
            None => match first_of(self.stack, self.fps, i - 1)
                .iter()
                .find(|(a, _)| *a == actor && parent.done.contains(a) && *a != parent.chosen)
            {
                Some(&(_, fp)) => fp,
                None => return false,
            },
        };
        let fp = self.fps.fp(fp);
        with_steps_since(parent.step_at, |since| {
            !since.iter().any(|s| s.actor == actor || footprints_conflict(&s.accesses[..], fp))
        })
    }

    /// Record the footprint of the first step after decision `d` (the last
    /// on the path, or the parent of the one being made), unless its
    /// choice has one already.
    fn record_first(&mut self, d: usize) {
        if let Some(n) = self.stack.get(d) {
            let fps = &mut *self.fps;
            with_steps_since(n.step_at, |since| record_first(self.stack, fps, d, since.first()));
        }
    }
}

/// [`DfsChooser::record_first`], given the step after decision `d`.
fn record_first(stack: &[Node], fps: &mut Fps, d: usize, step: Option<&Step>) {
    let Some(s) = step.filter(|s| s.decision == Some(d)) else { return };
    let chosen = stack[d].chosen;
    if !first_of(stack, fps, d).iter().any(|(a, _)| *a == chosen) {
        let r = fps.push(&s.accesses);
        fps.first.push((chosen, r));
    }
}

impl Chooser for DfsChooser<'_> {
    fn forced(&mut self, actor: ActorId, decisions: usize) {
        // The only runnable actor is asleep: everything from here is
        // covered by a schedule already explored.
        if decisions > 0 && decisions == self.stack.len() && self.asleep(decisions, actor) {
            self.pruned = true;
            sim_kernel::sched::request_stop();
        }
    }

    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        let i = p.index;
        if i < self.stack.len() {
            // A replayed decision: the run is deterministic, so it comes
            // at the same step as when it was made.
            let n = &self.stack[i];
            debug_assert_eq!(n.step_at, step_count(), "a replay made other steps");
            return n.chosen;
        }
        // A new decision. The step after the previous one is done: its
        // footprint is recorded before this node's are added.
        if let Some(d) = i.checked_sub(1) {
            self.record_first(d);
        }
        let preemptions = match self.stack.last() {
            None => 0,
            Some(parent) => parent.preemptions + parent.is_preemption(parent.chosen) as u32,
        };
        let sleep = self.child_sleep(i);
        let mut node = Node {
            enabled: Actors::from_slice(p.runnable),
            mask: actor_mask(p.runnable),
            prev: p.prev,
            prev_runnable: p.prev_runnable,
            chosen: 0,
            backtrack: Actors::new(),
            done: Actors::new(),
            sleep,
            first: self.fps.first.len() as u32,
            words: self.fps.words.len() as u32,
            preemptions,
            step_at: step_count(),
        };
        // Candidates: awake, within the bound, allowed at the root; the
        // previous actor first (fewest preemptions first).
        let mut cands = Actors::new();
        if let Some(pr) = p.prev.filter(|_| p.prev_runnable) {
            cands.push(pr);
        }
        cands.extend(p.runnable.iter().copied().filter(|a| Some(*a) != p.prev || !p.prev_runnable));
        let asleep = sleepers(&node, self.fps);
        cands.retain(|a| !asleep.iter().any(|(s, _)| s == a));
        if let Some(b) = self.bound {
            cands.retain(|a| node.preemptions + node.is_preemption(*a) as u32 <= b);
        }
        if i == 0 {
            // The root: every child, in actor order, split by shard.
            let all = p.runnable;
            cands = all.iter().copied().filter(|a| (self.root_allowed)(*a, all)).collect();
            node.backtrack = cands.clone();
        } else if self.mode == Mode::Naive {
            node.backtrack = cands.clone();
        }
        let Some(&first) = cands.first() else {
            self.pruned = true;
            self.empty_shard = i == 0;
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

/// Buffers the per-execution race analysis reuses: one set per search, so
/// that once they have grown an execution's analysis allocates nothing.
/// Everything per step depends on earlier steps only, so the analysis of
/// the steps an execution shares with the previous one is kept.
#[derive(Default)]
struct RaceScratch {
    /// Per step, what the analysis looks at (see [`StepInfo`]).
    info: Vec<StepInfo>,
    /// Every step's vector clock, flat, `width` numbers each (the actors'
    /// then zeros): step k's is `step_vc[k * width..(k + 1) * width]`.
    /// Setup's component, and setup's steps' clocks, are left zero: setup
    /// runs alone before every other actor, so its steps happen before
    /// everything and take part in no race.
    step_vc: Vec<u32>,
    /// The clocks' width: the number of actors rounded up to 4 or 8 (so
    /// that clock operations have a fixed length), or the number itself.
    width: usize,
    /// Per actor, its latest step so far ([`NONE`]: none; setup's is not
    /// kept).
    last: Vec<u32>,
    /// Per actor, its number of steps so far.
    count: Vec<u32>,
    /// How many steps the next execution to analyse begins with that the
    /// last one analysed also began with (see [`RaceScratch::replay_from`]).
    shared: usize,
}

impl RaceScratch {
    /// The search goes on with decision `d`, taken at step `step_at`,
    /// changed: every execution from now on begins with the steps before
    /// it as the last analysed one did (the run is deterministic: the same
    /// decisions make the same steps).
    fn replay_from(&mut self, step_at: usize) {
        self.shared = self.shared.min(step_at);
    }
}

/// No step (in [`RaceScratch::last`] and [`StepInfo::prev`]).
const NONE: u32 = u32::MAX;

/// One step as the race analysis's inner loops see it, packed together.
#[derive(Clone, Copy, Debug)]
struct StepInfo {
    actor: ActorId,
    /// Its index among its actor's steps (0 for a step outside the analysis).
    pos: u32,
    /// Its actor's previous step ([`NONE`]: none).
    prev: u32,
    keys: KeyMask,
    /// How many steps up to this one the happens-before order does not
    /// explain (see [`explained`]).
    unexplained: u32,
    /// What must be done before it, packed (see [`PackedOrder`]), when
    /// the actors are few enough.
    need: u64,
    /// The actors that could run when it was taken, one bit each (see
    /// [`actor_mask`]; every bit for setup's steps, which wake no one).
    runnable: u64,
}

/// A set of actors as a bit mask, when every actor is below 64 (see
/// [`masks`]).
fn actor_mask(actors: &[ActorId]) -> u64 {
    actors.iter().fold(0, |m, &a| m | 1u64.checked_shl(a as u32).unwrap_or(0))
}

/// Whether [`actor_mask`] can hold any set of `ids` actors.
fn masks(ids: usize) -> bool {
    ids <= 64
}

/// A step's footprint summarized as two key signatures (see
/// [`Step::sig`]): the keys touched, and those written. Two footprints
/// whose signatures do not overlap on a write cannot conflict.
#[derive(Clone, Copy, Debug, Default)]
struct KeyMask {
    touched: u64,
    written: u64,
}

impl KeyMask {
    /// False only if the footprints summarized cannot conflict.
    #[inline]
    fn may_conflict(self, o: KeyMask) -> bool {
        (self.written & o.touched) | (self.touched & o.written) != 0
    }
}

/// DPOR's race analysis over one execution: for each step, the latest
/// earlier dependent step of another actor not ordered before it by
/// happens-before gets that actor (or, if it could not run there, every
/// actor that could) as an alternative at its decision. A `stopped`
/// execution's failing step also races every actor it cut off (see
/// [`add_stop_races`]).
/// Leaves every step's vector clock in `sc.step_vc` (the happens-before
/// order the naive count reuses) and whether the order explains the run
/// (see [`explained`]) in the last step's `unexplained`.
#[inline(never)]
fn add_races(
    stack: &mut [Node],
    steps: &[Step],
    nactors: usize,
    finally_id: ActorId,
    stopped: bool,
    sc: &mut RaceScratch,
) {
    // Clocks of a fixed length where the actors are few: their joins and
    // copies are then a few vector instructions.
    match nactors {
        0..=4 => add_races_w::<4>(stack, steps, nactors, finally_id, sc),
        5..=8 => add_races_w::<8>(stack, steps, nactors, finally_id, sc),
        _ => add_races_w::<0>(stack, steps, nactors, finally_id, sc),
    }
    if stopped {
        add_stop_races(stack, steps);
    }
}

/// [`add_races`] with clocks `W` numbers wide (0: `n`, the number of
/// actors; else at least `n`).
fn add_races_w<const W: usize>(
    stack: &mut [Node],
    steps: &[Step],
    n: usize,
    finally_id: ActorId,
    sc: &mut RaceScratch,
) {
    let w = if W == 0 { n } else { W };
    debug_assert!(n <= w);
    let m = steps.len();
    // Steps the last analysed execution also began with are analysed
    // already: their clocks and races depend on earlier steps only, and
    // the races were added to nodes still on the stack (their decisions
    // come before the first one this execution changed).
    let mut p = sc.shared.min(m).min(sc.info.len());
    if sc.width != w || sc.last.len() != n {
        p = 0;
        sc.width = w;
        sc.info.clear();
        sc.last.clear();
        sc.last.resize(n, NONE);
        sc.count.clear();
        sc.count.resize(n, 0);
    }
    sc.shared = usize::MAX;
    debug_assert!(sc.info[..p].iter().zip(steps).all(|(i, s)| i.actor == s.actor), "a replay made other steps");
    // The state after the prefix: each actor's latest step and number of
    // steps, as they were before the steps past the prefix.
    for x in sc.info[p..].iter().rev() {
        if x.actor != 0 && x.actor < n {
            sc.last[x.actor] = x.prev;
            sc.count[x.actor] -= 1;
        }
    }
    sc.info.truncate(p);
    let small = masks(n);
    let RaceScratch { info, step_vc, last, count, .. } = sc;
    // Per actor, sliced to `n` so that indexing by actor needs no check.
    let (last, count) = (&mut last[..n], &mut count[..n]);
    step_vc.truncate(p * w);
    step_vc.resize(m * w, 0);
    let mut cbuf = [0u32; 8];
    let mut cvec = Vec::new();
    let c: &mut [u32] = if W == 0 {
        cvec.resize(w, 0);
        &mut cvec
    } else {
        &mut cbuf[..W]
    };
    // (Lets indexing `c` by actor go unchecked.)
    assert!(n <= c.len());
    #[inline(always)]
    fn row<const W: usize>(step_vc: &[u32], j: usize, w: usize) -> &[u32] {
        let w = if W == 0 { w } else { W };
        &step_vc[j * w..(j + 1) * w]
    }
    // Setup runs alone before every other actor: its steps come first,
    // and wake no one.
    let setup_end = steps.iter().take_while(|s| s.actor == 0).count();
    let mut finally_started = last.get(finally_id).is_some_and(|&x| x != NONE);
    let mut unexplained = p.checked_sub(1).map_or(0, |q| info[q].unexplained);
    for (k, s) in steps.iter().enumerate().skip(p) {
        let a = s.actor;
        let keys = KeyMask { touched: s.sig, written: s.wsig };
        // The actors that could run when the step was taken (one without
        // a decision ran alone).
        let runnable = match s.decision.and_then(|d| stack.get(d)) {
            _ if a == 0 => u64::MAX,
            Some(node) => node.mask,
            None => actor_mask(std::slice::from_ref(&a)),
        };
        info.push(StepInfo { actor: a, pos: 0, prev: NONE, keys, unexplained, need: 0, runnable });
        if a == 0 || a >= n {
            continue;
        }
        let prev = last[a];
        // The step that woke a's actor, if it waited since its previous
        // step: the last step since then at which it could not run.
        let since = if prev == NONE { setup_end } else { prev as usize + 1 };
        let woke = if small {
            let bit = 1u64 << a;
            info[since.min(k)..k].iter().rposition(|x| x.runnable & bit == 0).map(|t| since + t)
        } else {
            (since..k).rev().find(|&t| {
                steps[t].actor != 0
                    && !match steps[t].decision.and_then(|d| stack.get(d)) {
                        Some(node) => node.enabled.contains(&a),
                        None => steps[t].actor == a,
                    }
            })
        };
        c.fill(0);
        if prev != NONE {
            c.copy_from_slice(row::<W>(step_vc, prev as usize, w));
        } else if a == finally_id && !finally_started {
            // `finally` starts after every actor has stopped: a barrier.
            for &q in last.iter().filter(|&&q| q != NONE) {
                join(c, row::<W>(step_vc, q as usize, w));
            }
        }
        finally_started |= a == finally_id;
        // The step that woke a's actor enabled this one: they were never
        // both runnable, so no race; it happens before.
        if let Some(wk) = woke.filter(|&wk| info[wk].actor < n) {
            join(c, row::<W>(step_vc, wk, w));
        }
        // Per other actor, its latest step dependent with this one and
        // not happening before it (walked from its latest step back: once
        // one happens before, so do all earlier). The latest of those
        // over every actor is the race; the clock is the join of their
        // clocks. Joining as they are found only skips steps that happen
        // before one found, which are neither the latest nor add to the
        // clock.
        let mut race: Option<usize> = None;
        for b in 1..n {
            // Every step of b's happens before already (its own actor's too).
            if c[b] >= count[b] {
                continue;
            }
            let mut j = last[b] as usize;
            loop {
                let x = &info[j];
                if x.keys.may_conflict(keys) && footprints_conflict(&steps[j].accesses, &s.accesses) {
                    race = Some(race.map_or(j, |r| r.max(j)));
                    join(c, row::<W>(step_vc, j, w));
                    break;
                }
                // The step before, unless it happens before.
                if x.prev == NONE || c[b] >= x.pos {
                    break;
                }
                j = x.prev as usize;
            }
        }
        if let Some(node) = race.and_then(|j| steps[j].decision).filter(|d| *d != 0).and_then(|d| stack.get_mut(d)) {
            let Node { enabled, backtrack, .. } = node;
            if enabled.contains(&a) {
                push_new(backtrack, a);
            } else {
                for &x in enabled.iter() {
                    push_new(backtrack, x);
                }
            }
        }
        let pos = count[a];
        count[a] += 1;
        c[a] = pos + 1;
        last[a] = k as u32;
        step_vc[k * w..(k + 1) * w].copy_from_slice(c);
        if !explained(info, k, woke, c) {
            unexplained += 1;
        }
        let x = &mut info[k];
        x.pos = pos;
        x.prev = prev;
        x.unexplained = unexplained;
        if packs(n) {
            x.need = pack_need(a, c);
        }
    }
}

/// Whether the happens-before order explains when step `k` (clock `c`)
/// ran: at every step from the one that completed its predecessors in the
/// order to `k`, its actor could run. If not, the footprints miss an
/// ordering (a wake-up they do not show) and counting the order's
/// linearizations would be a guess. `woke` is the last step since the
/// actor's previous one at which it could not run: the order explains
/// the step if that one is not after all of its predecessors, that is if
/// some step of another actor from `woke` on happens before `k`. (This is
/// [`order_explains_run`], one step at a time: the check it makes at each
/// step, for every actor whose next step the order allows, is this one
/// made for each step over the steps it was allowed at.)
fn explained(info: &[StepInfo], k: usize, woke: Option<usize>, c: &[u32]) -> bool {
    let Some(w) = woke else { return true };
    let a = info[k].actor;
    // Usually the waker itself happens before (it is in the clock).
    info[w..k].iter().any(|x| x.actor != 0 && x.actor != a && x.actor < c.len() && x.pos < c[x.actor])
}

/// Append `x` to `v` unless it is there already.
#[inline]
fn push_new(v: &mut Actors, x: ActorId) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// `c = max(c, v)`, component-wise. (Compared as `i32`, which vector
/// instructions do in one: no clock reaches 2^31 steps.)
#[inline]
fn join(c: &mut [u32], v: &[u32]) {
    for (x, y) in c.iter_mut().zip(v) {
        *x = (*x as i32).max(*y as i32) as u32;
    }
}

/// An execution stopped by a violation ends at the failing step: every
/// other actor that could run there never takes its next step, so the
/// races of those pending steps are never seen, and a search that only
/// analysed executed steps would never try them before the failing step
/// (a branch whose first schedule fails would hide every other outcome
/// below it). The stop disables every other actor: it is dependent with
/// each one's pending step (Flanagan and Godefroid's analysis of `next(s,
/// p)` at the final state, for a step that never ran). So every actor that
/// could run at the failing step's decision becomes an alternative there;
/// its step's other races show once it runs.
fn add_stop_races(stack: &mut [Node], steps: &[Step]) {
    let Some(last) = steps.last() else { return };
    // The root is fully expanded already (and split between shards).
    let Some(node) = last.decision.filter(|d| *d != 0).and_then(|d| stack.get_mut(d)) else { return };
    for x in node.enabled.clone() {
        if x != last.actor && !node.backtrack.contains(&x) {
            node.backtrack.push(x);
        }
    }
}

/// For each step, the step that woke its actor if the actor waited since
/// its previous step: the last step before it at which the actor could not
/// run (after that step it could). `runnable(d)` is the runnable set at
/// decision `d`; a step without a decision ran alone. Setup's steps (actor
/// 0, alone before anyone else exists) wake no one.
fn wakers<'a>(
    steps: &[Step],
    ids: usize,
    runnable: &dyn Fn(usize) -> Option<&'a [ActorId]>,
    out: &mut Vec<Option<usize>>,
    absent: &mut Vec<Option<usize>>,
) {
    out.clear();
    out.reserve(steps.len());
    absent.clear();
    absent.resize(ids, None);
    for (j, s) in steps.iter().enumerate() {
        let a = s.actor;
        out.push(absent.get_mut(a).and_then(Option::take));
        if a == 0 {
            continue;
        }
        let r: &[ActorId] = match s.decision.and_then(runnable) {
            Some(r) => r,
            None => std::slice::from_ref(&s.actor),
        };
        for (x, slot) in absent.iter_mut().enumerate().skip(1) {
            if x != a && !r.contains(&x) {
                *slot = Some(j);
            }
        }
    }
}

/// Run one execution along the current path; returns it unless pruned.
#[allow(clippy::too_many_arguments)]
fn run_one(
    prog: &Rc<Program>,
    path: &str,
    stack: &mut Vec<Node>,
    fps: &mut Fps,
    o: &ExploreOptions,
    run: RunOptions,
    mode: Mode,
    root_allowed: RootAllowed<'_>,
    root_sleep: RootSleep<'_>,
) -> (Execution, bool) {
    let mut ch = DfsChooser {
        stack,
        fps,
        mode,
        bound: o.preemptions,
        root_allowed,
        root_sleep,
        pruned: false,
        empty_shard: false,
    };
    // Footprints are needed by the reduction only: a naive search does not
    // record them.
    let opts = RunOptions { record_steps: mode == Mode::Dpor || o.record_steps, ..run };
    let ex = execute(prog, path, &mut ch, opts);
    let (pruned, empty_shard) = (ch.pruned, ch.empty_shard);
    if empty_shard {
        // Nothing to explore here: no execution, not even a pruned one.
        truncate_path(stack, fps, 0);
        return (ex, true);
    }
    // The first step after the last decision (the earlier ones' were
    // recorded as the next decision was made).
    if let Some(d) = stack.len().checked_sub(1) {
        record_first(stack, fps, d, ex.steps.get(stack[d].step_at));
    }
    (ex, pruned)
}

/// Whether execution `i` of a random or PCT search belongs to this shard.
fn in_shard(i: u64, o: &ExploreOptions) -> bool {
    let (si, sn) = o.shard.unwrap_or((0, 1));
    i % sn as u64 == si as u64
}

/// The seed of execution `i` of a random or PCT search: a fixed odd
/// multiplier spreads consecutive indices.
fn sub_seed(seed: u64, i: u64) -> u64 {
    seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Explore `src` (the text of `path`). Never panics on user input.
pub fn explore(path: &str, src: &str, o: &ExploreOptions) -> Result<Report, String> {
    explore_visit(path, src, o, &mut |_| {})
}

/// [`explore`], showing every counted execution to `visit` (in search
/// order; pruned executions and probes are not shown).
pub fn explore_visit(
    path: &str,
    src: &str,
    o: &ExploreOptions,
    visit: &mut dyn FnMut(&Execution),
) -> Result<Report, String> {
    let prog = load_source(path, src)?;
    explore_program(path, &prog, o, visit)
}

/// [`explore_visit`] of a program already compiled from `path`.
pub fn explore_program(
    path: &str,
    prog: &Rc<Program>,
    o: &ExploreOptions,
    visit: &mut dyn FnMut(&Execution),
) -> Result<Report, String> {
    let prog = crate::cli::with_bugs(prog.clone(), &o.bugs);
    let deadline = o.time_limit.and_then(|t| Instant::now().checked_add(t));
    let mut acc = Acc::new(&prog, o);
    let mut ticker = Ticker { sink: &o.progress, pending: 0 };
    // Every execution, the probes included, under the step limit and the
    // deadline.
    let run = run_options(o, deadline);
    let (shard_i, shard_n) = o.shard.unwrap_or((0, 1));
    if shard_n == 0 || shard_i >= shard_n {
        return Err(format!("error: --shard {shard_i}/{shard_n}: the index must be below the count\n"));
    }
    if let Some((n, seed)) = o.random {
        let mut complete = true;
        for i in (0..n).filter(|i| in_shard(*i, o)) {
            if acc.out_of_budget(o, deadline) {
                complete = false;
                break;
            }
            let ex = execute(&prog, path, &mut SeededChooser::new(sub_seed(seed, i)), run);
            if let Some(c) = ex.cut {
                acc.cut(c);
                break;
            }
            acc.add(&ex);
            visit(&ex);
            ticker.tick();
        }
        // A random search is never complete; `complete` here is only used
        // to say whether the budget cut it short (not reported).
        let _ = complete;
        let mut r = acc.report(path, &prog, "random", false, o);
        r.seed = Some(seed);
        return Ok(r);
    }
    if let Some(p) = o.pct {
        return Ok(explore_pct(path, &prog, o, p, acc, &mut ticker, visit, deadline));
    }
    let mode = if o.preemptions.is_some() { Mode::Naive } else { o.mode };
    let mode_name = match mode {
        Mode::Dpor => "dpor",
        Mode::Naive => "naive",
    };
    let nactors = prog.actors.len() + 2;
    let finally_id = prog.actors.len() + 1;
    let root_allowed = move |a: usize, all: &[ActorId]| {
        let pos = all.iter().position(|x| *x == a).unwrap_or(0) as u32;
        pos % shard_n == shard_i
    };
    // Root children's first-step footprints, for the sleep sets of the
    // later root children. A search of every root child has them at hand:
    // child x's subtree is explored before any later child's, and its
    // first execution records the footprint in the root node (`first_fp`,
    // see `run_one`). A shard probes them before the search, so that every
    // shard computes the same sleep sets as the whole search: one
    // execution per root child but the last (whose footprint no sleep set
    // holds), not counted; the first also finds the root's children.
    // The search's footprints; the probes' stay at the bottom.
    let mut fps = Fps::default();
    let mut probes: BTreeMap<ActorId, FpRef> = BTreeMap::new();
    if mode == Mode::Dpor && shard_n > 1 {
        let first_step = |ex: &Execution| -> Footprint {
            ex.steps.iter().find(|s| s.decision == Some(0)).map(|s| s.accesses.clone()).unwrap_or_default()
        };
        let no_sleep = |_: &Node, _: &[FpEntry], _: &mut Vec<FpEntry>| {};
        let mut st: Vec<Node> = Vec::new();
        let (first, _) =
            run_one(&prog, path, &mut st, &mut Fps::default(), o, run, Mode::Dpor, &|_, _| true, &no_sleep);
        let (root, first_child) = st.first().map(|n| (n.enabled.clone(), n.chosen)).unwrap_or_default();
        for &a in root.iter().take(root.len().saturating_sub(1)) {
            let fp = if a == first_child {
                first_step(&first)
            } else {
                let mut st: Vec<Node> = Vec::new();
                let allow_a = move |x: usize, _: &[ActorId]| x == a;
                first_step(
                    &run_one(&prog, path, &mut st, &mut Fps::default(), o, run, Mode::Dpor, &allow_a, &no_sleep).0,
                )
            };
            probes.insert(a, fps.push(&fp));
        }
    }
    let root_sleep = |root: &Node, first: &[FpEntry], out: &mut Vec<FpEntry>| {
        if mode == Mode::Naive {
            return;
        }
        for x in root.enabled.iter().take_while(|x| **x != root.chosen) {
            let fp = if shard_n > 1 {
                probes.get(x).copied()
            } else {
                first.iter().find(|(a, _)| a == x).map(|&(_, fp)| fp)
            };
            out.push((*x, fp.unwrap_or_default()));
        }
    };
    let mut stack: Vec<Node> = Vec::new();
    let mut races = RaceScratch::default();
    let mut complete = true;
    loop {
        if acc.out_of_budget(o, deadline) {
            complete = false;
            break;
        }
        let (ex, pruned) = run_one(&prog, path, &mut stack, &mut fps, o, run, mode, &root_allowed, &root_sleep);
        if let Some(c) = ex.cut {
            // Cut off unfinished: not counted, and the search ends.
            acc.cut(c);
            complete = false;
            break;
        }
        let no_root = stack.is_empty();
        if pruned && no_root {
            // An empty shard (no root child is this shard's): nothing to do.
            break;
        } else if pruned {
            acc.pruned += 1;
        } else if shard_i == 0 || !no_root {
            acc.add(&ex);
            visit(&ex);
            ticker.tick();
        }
        if mode == Mode::Dpor && !pruned {
            add_races(&mut stack, &ex.steps, nactors, finally_id, ex.stopped, &mut races);
            if shard_i == 0 || !no_root {
                if let Some(root) = stack.first() {
                    acc.naive.enter_root(root.chosen);
                }
                acc.naive.add(&ex, prog.actors.len(), Some(&races));
            }
        }
        // Nodes past the decisions this execution made are stale.
        debug_assert!(stack.len() >= ex.schedule.len(), "a replayed prefix made different decisions");
        truncate_path(&mut stack, &mut fps, ex.schedule.len());
        // Backtrack to the deepest node with an alternative left.
        while let Some(top) = stack.last_mut() {
            let asleep = sleepers(top, &fps);
            let next = top.backtrack.iter().copied().find(|a| {
                !top.done.contains(a)
                    && !asleep.iter().any(|(s, _)| s == a)
                    && o.preemptions.is_none_or(|b| top.preemptions + top.is_preemption(*a) as u32 <= b)
            });
            match next {
                Some(a) => {
                    top.done.push(a);
                    top.chosen = a;
                    races.replay_from(top.step_at);
                    break;
                }
                None => {
                    let len = stack.len() - 1;
                    truncate_path(&mut stack, &mut fps, len);
                }
            }
        }
        // Its buffers serve the next execution.
        crate::runner::recycle(ex);
        if stack.is_empty() {
            break;
        }
    }
    let mut r = acc.report(path, &prog, mode_name, complete, o);
    set_naive(&mut r);
    Ok(r)
}

/// What every execution of a search runs under: the step limit, the
/// deadline, the granularity and the named yield points the options say.
fn run_options(o: &ExploreOptions, deadline: Option<Instant>) -> RunOptions {
    RunOptions {
        max_steps: o.max_steps,
        deadline,
        granularity: o.granularity,
        no_named_yield_points: o.no_named_yield_points,
        ..Default::default()
    }
}

/// `--pct N --depth D`: N executions under [`PctChooser`], execution `i`
/// seeded by `sub_seed(seed, i)`. The step estimate `k` starts from one
/// probe execution (depth 1, not counted) and grows to the most steps any
/// execution took; the report states the guarantee with the final `k`.
#[allow(clippy::too_many_arguments)]
fn explore_pct(
    path: &str,
    prog: &Rc<Program>,
    o: &ExploreOptions,
    p: PctOptions,
    mut acc: Acc,
    ticker: &mut Ticker<'_>,
    visit: &mut dyn FnMut(&Execution),
    deadline: Option<Instant>,
) -> Report {
    let ids = prog.actors.len() + 2;
    let depth = p.depth.clamp(1, crate::limits::MAX_DEPTH);
    let run = run_options(o, deadline);
    let mut probe = PctChooser::new(p.seed, ids, 1, 1);
    let first = execute(prog, path, &mut probe, run);
    if let Some(c) = first.cut {
        acc.cut(c);
    }
    // Every execution draws its change points over the probe's length, so
    // that execution i is the same whichever shard runs it (a length
    // grown from the executions run so far would differ between a shard
    // and the whole search); the guarantee is stated for the longest
    // execution seen.
    let k_probe = probe.steps.max(1);
    let mut k = k_probe;
    for i in (0..p.count).filter(|i| in_shard(*i, o)) {
        if acc.out_of_budget(o, deadline) {
            break;
        }
        let mut ch = PctChooser::new(sub_seed(p.seed, i), ids, k_probe, depth);
        let ex = execute(prog, path, &mut ch, run);
        if let Some(c) = ex.cut {
            acc.cut(c);
            break;
        }
        k = k.max(ch.steps);
        acc.add(&ex);
        visit(&ex);
        ticker.tick();
    }
    let n = (prog.actors.len() + usize::from(!prog.finally.is_empty())).max(1) as u64;
    let mut denom = Big::one();
    denom.mul_small(n);
    for _ in 1..depth {
        denom.mul_small(k);
    }
    let mut r = acc.report(path, prog, "pct", false, o);
    r.seed = Some(p.seed);
    r.pct = Some(PctInfo { depth, actors: n, steps: k, bound_denominator: denom.to_string() });
    r
}

/// Join shard reports of the same file into one (`ksim merge`).
///
/// The reports must be disjoint parts of one search: one file, one search
/// (mode, bound, seed, depth), and shards of one split, each at most once.
/// A report given twice, an unsharded report beside any other, or shards
/// of two different splits would count executions twice, so each is an
/// error rather than a merged histogram that is silently wrong.
pub fn merge(reports: &[Report]) -> Result<Report, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    check_disjoint(reports)?;
    let mut outcomes: BTreeMap<BTreeMap<String, String>, u64> = BTreeMap::new();
    let mut cex: BTreeMap<String, Counterexample> = BTreeMap::new();
    let mut exists = first.exists.clone();
    let (mut executions, mut pruned, mut complete) = (0, 0, true);
    for r in reports {
        if r.file != first.file
            || r.mode != first.mode
            || r.preemption_bound != first.preemption_bound
            || r.seed != first.seed
            || r.pct.as_ref().map(|p| p.depth) != first.pct.as_ref().map(|p| p.depth)
        {
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
    // A set of shards is complete only if every shard of the split is here
    // (`check_disjoint` has made sure none is here twice).
    if let Some(Ok((_, n))) = first.shard.as_deref().map(parse_shard_label) {
        if reports.len() != n as usize {
            complete = false;
        }
    }
    // The shards' shares of the naive count add up (each trace is explored
    // in one shard).
    let mut naive = Some(Big::default());
    for r in reports {
        naive = match (naive, r.naive_share.as_deref().and_then(Big::parse)) {
            (Some(mut a), Some(b)) => {
                a.add(&b);
                Some(a)
            }
            _ => None,
        };
    }
    // PCT shards each estimated k; the guarantee holds for the largest.
    let pct = reports.iter().filter_map(|r| r.pct.clone()).max_by_key(|p| p.steps);
    let pct = pct.map(|p| {
        let mut d = Big::one();
        d.mul_small(p.actors);
        for _ in 1..p.depth {
            d.mul_small(p.steps);
        }
        PctInfo { bound_denominator: d.to_string(), ..p }
    });
    let mut r = Report {
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
        naive_executions: None,
        naive_share: naive.map(|n| n.to_string()),
        seed: first.seed,
        pct,
        naive_capped: reports.iter().any(|r| r.naive_capped),
        time_limit_reached: reports.iter().any(|r| r.time_limit_reached),
        interrupted: reports.iter().any(|r| r.interrupted),
        granularity: first.granularity.clone(),
        no_named_yield_points: first.no_named_yield_points,
        bugs: first.bugs.clone(),
    };
    set_naive(&mut r);
    Ok(r)
}

/// A report's `shard` label, `I/N`, as `(I, N)`.
fn parse_shard_label(s: &str) -> Result<(u32, u32), String> {
    let parsed = s.split_once('/').and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    match parsed {
        Some((i, n)) if i < n => Ok((i, n)),
        _ => Err(format!("`{s}` is not a shard label (I/N with 0 <= I < N)")),
    }
}

/// [`merge`]'s input check: the reports are disjoint parts of one split.
fn check_disjoint(reports: &[Report]) -> Result<(), String> {
    let first = &reports[0];
    if let Some(r) = reports.iter().find(|r| r.file != first.file) {
        return Err(format!("cannot merge reports of two files: {} and {}", first.file, r.file));
    }
    let what = |r: &Report| {
        use std::fmt::Write as _;
        let mut w = r.mode.clone();
        if !is_call(&r.granularity) {
            let _ = write!(w, ", {} granularity", r.granularity);
        }
        if r.no_named_yield_points {
            let _ = write!(w, ", no named yield points");
        }
        for b in &r.bugs {
            let _ = write!(w, ", --bug {b}");
        }
        if let Some(b) = r.preemption_bound {
            let _ = write!(w, ", preemption bound {b}");
        }
        if let Some(s) = r.seed {
            let _ = write!(w, ", seed {s}");
        }
        if let Some(p) = &r.pct {
            let _ = write!(w, ", depth {}", p.depth);
        }
        w
    };
    if let Some(r) = reports.iter().find(|r| what(r) != what(first)) {
        return Err(format!(
            "cannot merge reports of two different searches of {}: {} and {}",
            first.file,
            what(first),
            what(r)
        ));
    }
    let mut split: Option<u32> = None;
    let mut seen = std::collections::BTreeSet::new();
    for r in reports {
        let Some(label) = r.shard.as_deref() else {
            // One whole search merges into itself; beside anything else it
            // counts executions twice.
            if reports.len() == 1 {
                return Ok(());
            }
            return Err(format!(
                "{}: an unsharded report covers the whole search: merged with any other report it counts executions twice",
                r.file
            ));
        };
        let (i, n) = parse_shard_label(label).map_err(|e| format!("{}: {e}", r.file))?;
        match split {
            Some(m) if m != n => {
                return Err(format!(
                    "{}: shard {label} belongs to a split into {n}, the others to a split into {m}: shards of two splits overlap",
                    r.file
                ))
            }
            _ => split = Some(n),
        }
        if !seen.insert(i) {
            return Err(format!("{}: shard {label} is given twice: it would be counted twice", r.file));
        }
    }
    Ok(())
}

/// Explore with `jobs` threads: shards 0..jobs, merged. The result equals
/// the sequential search's.
pub fn explore_parallel(path: &str, src: &str, o: &ExploreOptions, jobs: u32) -> Result<Report, String> {
    explore_parallel_with(path, src, None, o, jobs)
}

/// [`explore_parallel`], given `prog` if the caller has already compiled
/// `src` (a search on this thread uses it; shard threads compile their
/// own, a program not being shareable between threads).
pub fn explore_parallel_with(
    path: &str,
    src: &str,
    prog: Option<&Rc<Program>>,
    o: &ExploreOptions,
    jobs: u32,
) -> Result<Report, String> {
    if jobs <= 1
        || o.random.is_some()
        || o.pct.is_some()
        || o.shard.is_some()
        || o.max_executions.is_some()
        || o.time_limit.is_some()
    {
        return match prog {
            Some(p) => explore_program(path, p, o, &mut |_| {}),
            None => explore(path, src, o),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_stays_under_its_cap_and_says_so() {
        let cap = 10_000;
        let mut s = SeenSet { cap_bytes: cap, ..Default::default() };
        let mut new = 0;
        for i in 0..100_000u64 {
            match s.insert(&[i, i + 1, i + 2]) {
                Some(true) => new += 1,
                Some(false) => panic!("key {i} seen twice"),
                None => break,
            }
        }
        assert!(s.capped && s.full);
        assert!(s.bytes <= cap && new == s.set.len() && new == cap / key_bytes(3), "{} keys", new);
        // Full: nothing more goes in, not even a new key.
        assert_eq!(s.insert(&[u64::MAX]), None);
        // A new root child's subtree starts empty; the count stays capped.
        s.clear();
        assert_eq!((s.insert(&[1]), s.insert(&[1]), s.capped), (Some(true), Some(false), true));
    }
}
