//! The deterministic executor: actors as corosensei coroutines on one OS
//! thread, a [`Chooser`] deciding at every scheduling point, a virtual clock
//! that advances only when every actor is idle (discrete-event time).
//!
//! The executor's state ([`Core`]) is reached through a thread-local
//! pointer so that kernel code deep inside an actor can reach it without a
//! context argument; it is borrowed only inside one function call and never
//! across a switch. The pointer is a plain `Cell` (no lazy initialisation,
//! no destructor, no borrow flag): the hottest path in the simulator reads
//! it at every scheduling point. A finished executor's `Core` is kept for
//! the next one on the thread with its buffers' capacity, so an explorer
//! running thousands of executions does not reallocate them each time.

use super::ActorId;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use std::cell::{Cell, RefCell};

/// Bytes of stack per actor. Stacks are reserved, not committed, so this is
/// cheap; it must hold the interpreter's recursion plus a kernel path.
const STACK_BYTES: usize = 256 * 1024;
/// Stacks kept for reuse across executions (creating one costs an mmap).
const STACK_POOL_MAX: usize = 64;
/// Keys a step's footprint holds inline before it spills to the heap.
const STEP_KEYS: usize = 6;

/// A step's footprint: the keys it touched, with whether any touch wrote.
/// Inline up to [`STEP_KEYS`] keys (most steps touch a handful), so
/// recording a step allocates nothing. Derefs to `[(u64, bool)]`.
pub type Footprint = smallvec::SmallVec<[(u64, bool); STEP_KEYS]>;

type Co = Coroutine<(), (), (), DefaultStack>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorState {
    Runnable,
    Blocked,
    Done,
}

pub use super::{BlockedOn, WakeReason};

struct ActorRec {
    name: String,
    state: ActorState,
    /// Incremented at every wake-up: a wait-queue entry carrying an older
    /// token is stale and wakes nothing.
    token: u64,
    deadline: Option<u64>,
    wake_reason: WakeReason,
    blocked_on: Option<BlockedOn>,
    killed: bool,
    /// Opaque call site set by the interpreter before each call; kernel
    /// objects record it as their creation site.
    site: u32,
    /// The label of the scheduling point where it last gave up the CPU.
    at: &'static str,
    /// Between [`prepare_block`] and [`block`] at lock granularity (where
    /// a scheduling point can fall between them, as when `poll` queues on
    /// several wait queues): a wake-up with its token then counts, and the
    /// block returns at once (Linux's `set_current_state` before queueing).
    armed: bool,
}

/// A short list of actor ids kept inline (no allocation for up to
/// [`Runnable::INLINE`] ids): the runnable set of a [`Decision`]. Derefs
/// to the ids.
#[derive(Clone)]
pub enum Runnable {
    Inline(u8, [ActorId; Runnable::INLINE]),
    Heap(Vec<ActorId>),
}

impl Runnable {
    pub const INLINE: usize = 3;

    pub fn from_slice(ids: &[ActorId]) -> Runnable {
        if ids.len() <= Self::INLINE {
            let mut a = [0; Self::INLINE];
            a[..ids.len()].copy_from_slice(ids);
            Runnable::Inline(ids.len() as u8, a)
        } else {
            Runnable::Heap(ids.to_vec())
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[ActorId] {
        match self {
            Runnable::Inline(n, a) => &a[..*n as usize],
            Runnable::Heap(v) => v,
        }
    }
}

impl std::ops::Deref for Runnable {
    type Target = [ActorId];
    fn deref(&self) -> &[ActorId] {
        self.as_slice()
    }
}

impl PartialEq for Runnable {
    fn eq(&self, o: &Runnable) -> bool {
        self.as_slice() == o.as_slice()
    }
}

impl Eq for Runnable {}

impl std::fmt::Debug for Runnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

/// One scheduling decision, as recorded for replay and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The actors that could run, in id order.
    pub runnable: Runnable,
    pub chosen: ActorId,
    /// The actor that ran before this point, if any.
    pub prev: Option<ActorId>,
    /// Whether `prev` was still runnable (so choosing another is a
    /// preemption).
    pub prev_runnable: bool,
    /// Label of the point where `prev` stopped (`"syscall"`, a yield point
    /// name, `"block"`, `"exit"`).
    pub label: &'static str,
}

/// What the chooser sees at a point with more than one runnable actor.
pub struct ChoicePoint<'a> {
    pub runnable: &'a [ActorId],
    pub prev: Option<ActorId>,
    pub prev_runnable: bool,
    pub label: &'static str,
    /// Number of decisions with a real choice so far in this execution.
    pub index: usize,
}

/// Picks the next actor. Must return one of `p.runnable`.
pub trait Chooser {
    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId;

    /// Told when only `actor` can run (no choice; not a decision).
    /// `decisions` is the number of decisions so far. A chooser may call
    /// [`request_stop`] to end the run here.
    fn forced(&mut self, _actor: ActorId, _decisions: usize) {}

    /// Whether [`Chooser::forced`] must see every point where only one
    /// actor can run. A chooser that returns false lets the executor keep
    /// running the only runnable actor through such a point without a
    /// switch (nothing it records changes: such a point is no decision).
    fn observes_forced(&self) -> bool {
        true
    }
}

/// A chooser that keeps running the previous actor while it can, else the
/// lowest id: the "no preemption" schedule. Used for teardown.
pub struct RunToBlock;

impl Chooser for RunToBlock {
    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        match p.prev {
            Some(a) if p.prev_runnable => a,
            _ => p.runnable[0],
        }
    }

    fn observes_forced(&self) -> bool {
        false
    }
}

struct Core {
    actors: Vec<ActorRec>,
    /// The runnable actors, in id order (kept up to date at every state
    /// change, so a scheduling point does not scan every actor).
    runq: RunQueue,
    /// Set while [`Executor::run`] runs with a chooser that does not
    /// observe forced points and no step recording: a scheduling point
    /// where the current actor is the only runnable one then goes on
    /// without a switch.
    pass_forced: bool,
    /// The running actor; after a switch back to the executor, the last
    /// one that ran (so read it only inside an actor: behind `in_sim()`).
    current: Option<ActorId>,
    clock_ns: u64,
    lock_waiters: Vec<(usize, ActorId, u64)>,
    /// Set by [`request_stop`]: the run ends at the next switch.
    stop: bool,
    /// An actor at a [`spin_point`]: not chosen at the next decision
    /// while another actor can run.
    yielding: Option<ActorId>,
    /// Recorded when [`Executor::record_events`] is on.
    events: Option<Vec<ExecEvent>>,
    /// Recorded when [`Executor::record_steps`] is on.
    steps: Option<Vec<Step>>,
    /// Name buffers of a previous execution's actors, reused by `spawn`.
    spare_names: Vec<String>,
    /// Buffers an executor takes at creation and gives back when dropped
    /// (empty, with their capacity): its coroutine list, and the runnable
    /// set [`Executor::run`] hands its chooser (taken out of the core while
    /// `run` runs, since the chooser may reach the core).
    spare_cos: Vec<Option<Co>>,
    spare_runnable: Vec<ActorId>,
    /// The chooser of the running [`Executor::run`], for decisions made
    /// inside the running actor (see [`decide`]): set only while `run`
    /// runs. Its lifetime is erased; it is used only while `run` is
    /// suspended in a resume, which borrows the chooser for longer.
    chooser: Option<*mut (dyn Chooser + 'static)>,
    /// A decision made inside an actor that chose another actor: the
    /// executor resumes it next (with the decision's index).
    next: Option<(ActorId, usize)>,
    /// The actor that ran last (the `prev` of the next decision).
    prev: Option<ActorId>,
    /// Decisions with a real choice so far.
    choices: usize,
    /// Decisions that switched away from an actor that could have gone on.
    preemptions: usize,
    /// The actor chosen at each decision, while [`Executor::run`] runs
    /// (moved back to the executor when it returns).
    schedule: Vec<ActorId>,
    /// Every decision in full when `full_decisions` is on, while
    /// [`Executor::run`] runs (moved back to the executor when it returns).
    decisions: Vec<Decision>,
    full_decisions: bool,
}

/// One step: what an actor did between two scheduling points.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    pub actor: ActorId,
    /// The decision (index into [`Executor::decisions`]) that chose this
    /// step, if there was a choice.
    pub decision: Option<usize>,
    /// Keys touched, with whether any touch wrote (see
    /// [`crate::footprint`]).
    pub accesses: Footprint,
    /// One bit per touched key's [`key_bit`] (`sig`), and per written
    /// key's (`wsig`): two steps whose signatures do not meet touch no
    /// common key with a write, so most independent pairs are told apart
    /// without comparing footprints.
    pub sig: u64,
    pub wsig: u64,
}

/// A key's bit in a step signature (a multiplicative hash's top six bits).
#[inline]
pub fn key_bit(key: u64) -> u64 {
    1u64 << (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

impl Step {
    /// Whether the two steps' order can matter.
    #[inline]
    pub fn dependent(&self, other: &Step) -> bool {
        // A conflict needs a common key that one of them wrote.
        if (self.wsig & other.sig) | (self.sig & other.wsig) == 0 {
            return false;
        }
        footprints_conflict(&self.accesses, &other.accesses)
    }
}

/// Whether two footprints touch a common key with at least one write.
pub fn footprints_conflict(a: &[(u64, bool)], b: &[(u64, bool)]) -> bool {
    a.iter().any(|(k, w)| b.iter().any(|(k2, w2)| k == k2 && (*w || *w2)))
}

/// Record an access by the running actor's current step.
#[inline(always)]
pub fn access(key: u64, write: bool) {
    let st = STEP.with(|s| s.get());
    if !st.is_null() {
        // SAFETY: `STEP` is set only by `Core::open_step`, right after it
        // pushes a step, to that step (the last of the core's `steps`), and
        // `Executor::resume` resets it to null when the actor it resumed
        // gives the CPU back (as does `Executor::drop` first thing, should
        // a resume unwind). `open_step` runs in `resume` before the switch
        // into the actor, or inside that actor at a scheduling point where
        // it goes on; so this runs inside the actor, on the executor's
        // thread, and `st` is the last step. The vector is pushed to only
        // by `open_step` (which moves `STEP` to the new step in the same
        // pass), and not taken, replaced or dropped while an actor runs:
        // `record_steps`, `take_steps`, `kill_all` and `Drop` need the
        // `&mut Executor` that `run` holds across the resume. The pointer
        // comes from `Vec::as_mut_ptr`, which makes no reference, and no
        // other reference to the step is live here: the only readers are
        // `with_steps_since`, whose closure must not re-enter the executor
        // (so its slice is dead before any access), and `step_count`,
        // which reads the length.
        let key = named(key);
        unsafe { record_into(key, write, st) };
        if fine_grained() {
            note_native(key, write);
        }
    }
}

/// Record an access into the open step `st` (out of line: the hook above
/// is inlined into every kernel path).
///
/// # Safety
/// `st` points to a live step that nothing else references meanwhile.
#[inline(never)]
unsafe fn record_into(key: u64, write: bool, st: *mut Step) {
    // SAFETY: the caller's contract.
    let st = unsafe { &mut *st };
    let bit = key_bit(key);
    let seen = st.sig & bit != 0;
    st.sig |= bit;
    if write {
        st.wsig |= bit;
    }
    // A key whose signature bit is clear is not in the footprint yet:
    // no search.
    if seen {
        if let Some(e) = st.accesses.iter_mut().find(|(k, _)| *k == key) {
            e.1 |= write;
            return;
        }
    }
    if st.accesses.len() < st.accesses.capacity() {
        st.accesses.push((key, write));
    } else {
        push_access_grow(&mut st.accesses, key, write);
    }
}

/// A footprint's push that must grow it (kept out of [`record_into`], so
/// that its common path saves no registers).
#[cold]
#[inline(never)]
fn push_access_grow(fp: &mut Footprint, key: u64, write: bool) {
    fp.push((key, write));
}

/// Something the executor saw, for step traces (`-v`, `--trace`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecEvent {
    /// `actor` started blocking on `on` at virtual time `t`.
    Blocked { actor: ActorId, on: BlockedOn, t: u64 },
    /// `actor` was made runnable by a wake-up (or timeout, or kill).
    Woken { actor: ActorId, why: WakeReason, t: u64 },
    /// `actor` stopped at a named yield point.
    Yield { actor: ActorId, label: &'static str, t: u64 },
}

thread_local! {
    /// The installed executor's state (null when none is installed).
    static CORE: Cell<*mut Core> = const { Cell::new(std::ptr::null_mut()) };
    /// A finished executor's state, kept for the next one (its buffers keep
    /// their capacity).
    static SPARE: RefCell<Option<Box<Core>>> = const { RefCell::new(None) };
    /// Set while a `with_core` closure runs (the borrow check a `RefCell`
    /// would make, in builds with debug assertions).
    #[cfg(debug_assertions)]
    static CORE_BORROWED: Cell<bool> = const { Cell::new(false) };
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
    static STACKS: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
    /// The step the running actor's accesses go to (the last of the core's
    /// `steps`), set by `Executor::resume` while it runs an actor with
    /// steps recorded, null otherwise (the footprint hook's fast exit).
    static STEP: Cell<*mut Step> = const { Cell::new(std::ptr::null_mut()) };
    /// Actors parked on kernel locks (the unlock hook's fast exit).
    static LOCK_PARKED: Cell<usize> = const { Cell::new(0) };
    /// Empty buffers handed back by [`recycle_steps`] and
    /// [`recycle_decisions`], taken by the next executor that records.
    static SPARE_STEPS: Cell<Vec<Step>> = const { Cell::new(Vec::new()) };
    static SPARE_DECISIONS: Cell<Vec<Decision>> = const { Cell::new(Vec::new()) };
    /// Whether the installed executor has killed its actors
    /// ([`Executor::kill_all`]): [`current_killed`]'s fast exit.
    static KILLED: Cell<bool> = const { Cell::new(false) };
    /// Lock granularity ([`Granularity::Lock`]): every lock acquisition and
    /// release, refcount read-modify-write and wake-up is a scheduling
    /// point too.
    static FINE: Cell<bool> = const { Cell::new(false) };
    /// `--no-named-yield-points`: named yield points do nothing.
    static NAMED_OFF: Cell<bool> = const { Cell::new(false) };
    /// Lock granularity, steps recorded: the keys the running actor's own
    /// code reported since its step opened (see `fine_point_carrying`).
    static NATIVE: RefCell<Footprint> = RefCell::new(Footprint::new());
    /// The last key in `NATIVE` to be reported: the key of a lock taken
    /// next (see [`lock_point`]).
    static LAST_NATIVE: Cell<Option<u64>> = const { Cell::new(None) };
    /// How the step had touched `LAST_NATIVE` when the run of reports of
    /// it that ends the step's reports began (the announcement of a lock
    /// about to be taken): [`UNTOUCHED`], [`LOOKED`] or [`WROTE`].
    static LAST_PRIOR: Cell<u8> = const { Cell::new(WROTE) };
    /// Lock granularity, steps recorded: the keys repeated into the open
    /// step at its start (`put_carry`), which are not its own reports.
    static CARRIED: RefCell<Footprint> = RefCell::new(Footprint::new());
    /// Lock granularity, steps recorded: the locks each actor holds, with
    /// the keys reported before each was taken.
    static HELD: RefCell<Vec<(ActorId, usize, Footprint)>> = const { RefCell::new(Vec::new()) };
    /// Schedule-independent names of the objects made inside actors (see
    /// [`name_object`]), by object id - 1 (0: made outside any actor, the
    /// id is its name), and each actor's count of objects it made.
    static OBJ_NAMES: RefCell<(Vec<u64>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Tag of an object's schedule-independent name (see [`name_object`]).
const OBJ_NAME_TAG: u64 = 1 << 56;

/// The object with id `id` was just made by the running actor: name it,
/// for footprints, by its maker and how many objects the maker had made
/// before, not by its id. Ids count the objects made in an execution in
/// the order they were made, so they depend on the schedule: the object
/// that is #8 in one execution may be #9 in the next, if another actor
/// made one first. The reduction compares footprints across executions (a
/// sleeping actor's next step, recorded in an earlier execution, against
/// the steps of the next one), which needs a key to name the same object
/// in both: the k-th object an actor makes is the same object in every
/// execution that runs that actor's code the same way. Objects made
/// outside the actors (before the executor runs them) keep their ids.
pub fn name_object(id: u64) {
    let Some(a) = current() else { return };
    if STEP.with(|s| s.get()).is_null() {
        return;
    }
    OBJ_NAMES.with(|n| {
        let (names, seq) = &mut *n.borrow_mut();
        if seq.len() <= a {
            seq.resize(a + 1, 0);
        }
        seq[a] += 1;
        let i = id as usize - 1;
        if names.len() <= i {
            names.resize(i + 1, 0);
        }
        names[i] = OBJ_NAME_TAG | ((a as u64 + 1) << 32) | seq[a] as u64;
    });
}

/// The key an access to `key` records: an object's id (alone, or in the
/// low bits of a key tagged by [`crate::footprint`]) becomes the object's
/// name ([`name_object`]).
#[inline]
fn named(key: u64) -> u64 {
    let id = key & 0xffff_ffff;
    let tag = key & !0xffff_ffff;
    if id == 0 || (tag != 0 && tag != crate::footprint::MUTEX_TAG) {
        return key;
    }
    OBJ_NAMES.with(|n| match n.borrow().0.get(id as usize - 1) {
        Some(&name) if name != 0 => tag | name,
        _ => key,
    })
}

/// Forget the names of the last execution's objects.
fn clear_object_names() {
    OBJ_NAMES.with(|n| {
        let (names, seq) = &mut *n.borrow_mut();
        names.clear();
        seq.clear();
    });
}

/// Values of `LAST_PRIOR`.
const UNTOUCHED: u8 = 0;
const LOOKED: u8 = 1;
const WROTE: u8 = 2;

/// The runnable actors as a set that lists them in id order: a bit per
/// actor below 64 (an actor becomes runnable or stops being so with one
/// bit operation, at every block and wake-up), a sorted list above.
#[derive(Default)]
struct RunQueue {
    low: u64,
    high: Vec<ActorId>,
    len: usize,
}

impl RunQueue {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    /// Add `a` (not in the set).
    #[inline]
    fn insert(&mut self, a: ActorId) {
        if a < 64 {
            debug_assert!(self.low & (1 << a) == 0);
            self.low |= 1 << a;
        } else if let Err(i) = self.high.binary_search(&a) {
            self.high.insert(i, a);
        } else {
            return;
        }
        self.len += 1;
    }

    /// Remove `a` (in the set).
    #[inline]
    fn remove(&mut self, a: ActorId) {
        if a < 64 {
            debug_assert!(self.low & (1 << a) != 0);
            self.low &= !(1 << a);
        } else if let Ok(i) = self.high.binary_search(&a) {
            self.high.remove(i);
        } else {
            return;
        }
        self.len -= 1;
    }

    /// The lowest id (the set is not empty).
    #[inline]
    fn first(&self) -> ActorId {
        if self.low != 0 {
            self.low.trailing_zeros() as ActorId
        } else {
            self.high[0]
        }
    }

    /// The ids in increasing order.
    #[inline]
    fn iter(&self) -> impl Iterator<Item = ActorId> + '_ {
        let mut m = self.low;
        std::iter::from_fn(move || {
            if m == 0 {
                return None;
            }
            let a = m.trailing_zeros() as ActorId;
            m &= m - 1;
            Some(a)
        })
        .chain(self.high.iter().copied())
    }

    fn clear(&mut self) {
        self.low = 0;
        self.high.clear();
        self.len = 0;
    }
}

impl Core {
    /// Whether the current actor goes on through a scheduling point without
    /// a switch: the point is no decision (it is the only runnable actor and
    /// the chooser need not see such points), the clock cannot move, and
    /// nobody asked to stop.
    #[inline]
    fn runs_on(&self) -> bool {
        self.pass_forced && self.runq.len() == 1 && !self.stop
    }

    /// Change an actor's state, keeping `runq` in step.
    fn set_state(&mut self, a: ActorId, st: ActorState) {
        let old = std::mem::replace(&mut self.actors[a].state, st);
        if old == st {
            return;
        }
        if old == ActorState::Runnable {
            self.runq.remove(a);
        } else if st == ActorState::Runnable {
            self.runq.insert(a);
        }
    }
}

#[inline]
fn with_core<R>(f: impl FnOnce(&mut Core) -> R) -> Option<R> {
    let p = CORE.with(|c| c.get());
    if p.is_null() {
        return None;
    }
    #[cfg(debug_assertions)]
    CORE_BORROWED.with(|b| assert!(!b.replace(true), "executor state borrowed twice"));
    // SAFETY: `p` points to the `Core` boxed by the live `Executor` on this
    // thread (set in `Executor::new`, cleared in its `Drop` before the box
    // is released). Only this thread reaches it, and no closure passed here
    // calls back into `with_core` or switches coroutines, so this is the
    // only reference while `f` runs (checked with debug assertions).
    let r = f(unsafe { &mut *p });
    #[cfg(debug_assertions)]
    CORE_BORROWED.with(|b| b.set(false));
    Some(r)
}

/// Whether the calling code runs inside an actor of the deterministic
/// executor.
#[inline]
pub fn in_sim() -> bool {
    !YIELDER.with(|y| y.get()).is_null()
}

/// The running actor, if inside the executor.
pub fn current() -> Option<ActorId> {
    if !in_sim() {
        return None;
    }
    with_core(|c| c.current).flatten()
}

/// Give the CPU back to the executor; returns when this actor is resumed.
fn suspend() {
    let y = YIELDER.with(|y| y.get());
    assert!(!y.is_null(), "suspend outside an actor");
    // SAFETY: the pointer was stored by this coroutine's own entry closure
    // (below) and the yielder lives as long as the coroutine, which is
    // running this very code.
    unsafe { (*y).suspend(()) };
    // Other coroutines ran in between and overwrote the thread-local.
    YIELDER.with(|c| c.set(y));
}

/// At a scheduling point of the running actor `a`: what it does next.
enum AtPoint {
    /// No switch (the only runnable actor, and the chooser need not see
    /// the point).
    RunOn,
    /// A switch point, decided in the actor when the executor lets it.
    Decide(Option<Here>),
}

impl Core {
    /// The running actor `a` reached the point `label` (already recorded):
    /// whether it runs on, or what a decision here needs.
    #[inline]
    fn at_point(&self, a: ActorId) -> AtPoint {
        // Running on is what the executor would do here: the point is no
        // decision, the clock cannot move (this actor can run), and nobody
        // asked to stop.
        if self.runs_on() {
            AtPoint::RunOn
        } else {
            AtPoint::Decide(self.prepare_here(a))
        }
    }
}

/// A named yield point inside a kernel path: the place where Linux could be
/// preempted (or another CPU could run) between two steps that matter. The
/// explorer interleaves here; outside the executor it is a no-op, and so it
/// is with `--no-named-yield-points` ([`Executor::set_named_yield_points`]).
pub fn yield_point(name: &'static str) {
    if !in_sim() || (NAMED_OFF.with(|f| f.get()) && name != "syscall") {
        return;
    }
    if fine_grained() && name != "syscall" && !std::thread::panicking() {
        // Inside a call at lock granularity: the next step repeats the keys
        // of the locks held across the point (see `fine_point_carrying`),
        // so that every step of a holder shows its locks. Not the keys the
        // ended step reported: code after a named point reports what it
        // touches, as it must at call granularity, where nothing is
        // repeated.
        let carry = take_carry().map(|(native, mut carry)| {
            carry.drain(..native.len());
            (native, carry)
        });
        point(name, true);
        put_carry(carry);
        return;
    }
    point(name, name != "syscall");
}

/// A scheduling point labelled `label` of the running actor (inside the
/// executor); `event`: show it in step traces.
fn point(label: &'static str, event: bool) {
    let at = with_core(|c| {
        let a = c.current?;
        c.actors[a].at = label;
        if event {
            let t = c.clock_ns;
            if let Some(ev) = c.events.as_mut() {
                ev.push(ExecEvent::Yield { actor: a, label, t });
            }
        }
        Some(c.at_point(a))
    })
    .flatten();
    match at {
        None | Some(AtPoint::RunOn) => {}
        Some(AtPoint::Decide(h)) => {
            if h.and_then(|h| decide(h, |_, _| ())).is_none() {
                suspend();
            }
        }
    }
}

/// Whether the executor on this thread runs at lock granularity
/// ([`Granularity::Lock`]). One thread-local read: the check every lock
/// acquisition, refcount change and wake-up makes at call granularity.
#[inline(always)]
pub fn fine_grained() -> bool {
    FINE.with(|f| f.get())
}

/// A scheduling point of lock granularity ([`Granularity::Lock`]): a lock
/// acquisition (`"lock"`), a refcount read-modify-write (`"atomic"`), a
/// wake-up (`"wake"`). Nothing at call granularity.
#[inline(always)]
pub fn fine_point(label: &'static str) {
    if fine_grained() {
        fine_point_slow(label);
    }
}

/// [`fine_point`] at lock granularity.
#[cold]
#[inline(never)]
fn fine_point_slow(label: &'static str) {
    fine_point_carrying(label);
}

/// A point of lock granularity, where the code after it may touch state
/// whose key was reported before it: kernel paths report a lock's key
/// once, just before taking it, and then work under the lock. So the new
/// step repeats (a superset of what it needs, which keeps the reduction
/// sound) the keys the ended step reported itself since the last such
/// point, and the keys of every lock the actor holds (each lock's are those
/// reported before its acquisition). Not transitively: a key repeated into
/// a step is not repeated again unless its lock is still held, or the
/// footprints of a long call would pile up into every later step. Returns
/// the keys reported before the point (for [`lock_point`]), `None` when
/// steps are not recorded.
fn fine_point_carrying(label: &'static str) -> Option<Footprint> {
    // Not inside an actor, or unwinding one (a dropped coroutine's kernel
    // code runs its guards' drops and puts, and must not switch).
    if !in_sim() || std::thread::panicking() {
        return None;
    }
    let carry = take_carry();
    point(label, false);
    put_carry(carry)
}

/// What [`fine_point_carrying`] repeats into the next step: the keys
/// reported since the step opened, and with those of the held locks.
fn take_carry() -> Option<(Footprint, Footprint)> {
    if STEP.with(|s| s.get()).is_null() {
        None
    } else {
        let native = NATIVE.with(|n| n.borrow().clone());
        let mut carry = native.clone();
        let me = current();
        HELD.with(|h| {
            for (a, _, fp) in h.borrow().iter() {
                if Some(*a) == me {
                    carry.extend_from_slice(fp);
                }
            }
        });
        Some((native, carry))
    }
}

/// Repeat what [`take_carry`] took into the step now open.
fn put_carry(carry: Option<(Footprint, Footprint)>) -> Option<Footprint> {
    let (native, carry) = carry?;
    let st = STEP.with(|s| s.get());
    if !st.is_null() {
        for &(key, write) in carry.iter() {
            // SAFETY: as in `access` (the step just opened for this
            // actor); not noted as this step's own report.
            unsafe { record_into(key, write, st) };
        }
        CARRIED.with(|c| c.borrow_mut().extend_from_slice(&carry));
    }
    Some(native)
}

/// A busy-wait retry at lock granularity (Linux's `cpu_relax()` in a
/// loop that waits for another CPU, as a fault retried while its
/// userfaultfd context is being released): the running actor lets every
/// other runnable actor go first, as loom's `yield_now` does. Without it
/// the search would follow the schedule in which the spinner always runs
/// on, for ever. At call granularity no other actor can run inside such a
/// window, and this does nothing.
pub fn spin_point(label: &'static str) {
    if !fine_grained() || !in_sim() || std::thread::panicking() {
        return;
    }
    let carry = take_carry();
    let yielded = with_core(|c| {
        let a = c.current?;
        c.actors[a].at = label;
        if c.runq.len() > 1 {
            c.yielding = Some(a);
            Some(true)
        } else {
            Some(false)
        }
    })
    .flatten()
    .unwrap_or(false);
    if yielded {
        suspend();
    } else {
        point(label, false);
    }
    put_carry(carry);
}

/// The scheduling point before a lock acquisition at lock granularity
/// (see [`fine_point_carrying`]): returns what [`hold_lock`] must remember
/// for the lock once taken.
///
/// A lock has no key of its own: kernel paths report the lock's key just
/// before taking it (`footprint::access(obj, ..); obj.lock.lock()`), so its
/// key is the last one the caller reported since the previous point, and
/// the acquisition writes it: two actors' acquisitions of one lock never
/// commute (the second parks if the first still holds it), even when both
/// only read what it protects. The other keys reported since that point
/// keep the mode they were reported with (a lookup before taking a lock
/// stays a look). All of them are recorded in the acquiring step, and
/// repeated into every step of the holder at a point of lock granularity
/// until the release.
#[cold]
#[inline(never)]
pub fn lock_point() -> Option<Footprint> {
    lock_point_as(true)
}

/// [`lock_point`] for a shared acquisition (`down_read` of a
/// [`crate::sync::RwSemaphore`]): the lock's key stays as the caller
/// reported it, so two readers' acquisitions, both reads, commute; a
/// writer's acquisition ([`lock_point`]) writes it and conflicts with both.
#[cold]
#[inline(never)]
pub fn lock_point_shared() -> Option<Footprint> {
    lock_point_as(false)
}

fn lock_point_as(write: bool) -> Option<Footprint> {
    let last = LAST_NATIVE.with(|l| l.get());
    if let Some(key) = last {
        move_announcement(key);
    }
    let mut keys = fine_point_carrying("lock")?;
    for e in keys.iter_mut() {
        if write && Some(e.0) == last {
            e.1 = true;
        }
    }
    let st = STEP.with(|s| s.get());
    if !st.is_null() {
        for &(key, write) in keys.iter() {
            // SAFETY: as in `access`.
            unsafe { record_into(key, write, st) };
        }
    }
    Some(keys)
}

/// The lock about to be taken has key `key` (see [`lock_point`]): the
/// run of reports of it just before the acquisition announced the lock,
/// and the acquiring step records it; the step ending at the point keeps
/// only what it did with the key before the announcement (nothing: the
/// key leaves it; a look: a look), unless the key was repeated into it.
/// Otherwise the code before the point (a lookup, a refcount change, a
/// liveness check) would seem to write the lock's state, and every other
/// actor's steps under that lock would be ordered against it.
fn move_announcement(key: u64) {
    let st = STEP.with(|s| s.get());
    let prior = LAST_PRIOR.with(|p| p.get());
    if st.is_null()
        || prior == WROTE
        || CARRIED.with(|c| c.borrow().iter().any(|(k, _)| *k == key))
        || !in_sim()
        || std::thread::panicking()
    {
        return;
    }
    // SAFETY: as in `access`: the running actor's open step, not
    // referenced elsewhere meanwhile.
    let st = unsafe { &mut *st };
    let Some(i) = st.accesses.iter().position(|(k, _)| *k == key) else { return };
    if prior == UNTOUCHED {
        st.accesses.remove(i);
    } else {
        st.accesses[i].1 = false;
    }
    st.sig = 0;
    st.wsig = 0;
    for &(k, w) in st.accesses.iter() {
        st.sig |= key_bit(k);
        if w {
            st.wsig |= key_bit(k);
        }
    }
}

/// The current actor took the lock at `addr` after [`lock_point`]
/// returned `keys`: they are repeated into every step at a point of lock
/// granularity until [`release_lock`].
#[cold]
#[inline(never)]
pub fn hold_lock(addr: usize, keys: Footprint) {
    if let Some(a) = current() {
        HELD.with(|h| h.borrow_mut().push((a, addr, keys)));
    }
}

/// The current actor released the lock at `addr` (at lock granularity).
/// Out of line: [`crate::sync::Mutex`]'s unlock must stay small enough to
/// inline at call granularity.
#[cold]
#[inline(never)]
pub fn release_lock(addr: usize) {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if h.is_empty() {
            return;
        }
        let me = current();
        if let Some(i) = h.iter().rposition(|(a, x, _)| *x == addr && Some(*a) == me) {
            h.remove(i);
        }
    });
}

/// The scheduling point after the release of a lock taken at lock
/// granularity (see [`crate::sync::Mutex`]'s unlock): the releasing actor
/// may be preempted there, and another may take the lock.
#[cold]
#[inline(never)]
pub fn unlock_point() {
    fine_point_carrying("unlock");
}

/// Note a key reported by the running actor's own code (lock
/// granularity: see [`fine_point_carrying`]).
#[inline(never)]
fn note_native(key: u64, write: bool) {
    NATIVE.with(|n| {
        let mut n = n.borrow_mut();
        if LAST_NATIVE.with(|l| l.replace(Some(key))) != Some(key) {
            let prior = match n.iter().find(|(k, _)| *k == key) {
                None => UNTOUCHED,
                Some((_, false)) => LOOKED,
                Some((_, true)) => WROTE,
            };
            LAST_PRIOR.with(|p| p.set(prior));
        }
        if let Some(e) = n.iter_mut().find(|(k, _)| *k == key) {
            e.1 |= write;
        } else {
            n.push((key, write));
        }
    });
}

/// The interpreter's entry to a call: the scheduling point before it
/// (`switch`: not for an actor's first call), then whether the actor was
/// killed meanwhile (it must not make the call), then the call site. One
/// pass over the executor's state when the actor runs on without a switch
/// (the common case), two when it decides to run on at the point.
pub fn enter_call(switch: bool, site: u32) -> bool {
    if !in_sim() {
        return false;
    }
    let enter = |c: &mut Core, a: ActorId| {
        let r = &mut c.actors[a];
        r.site = site;
        r.armed = false;
        r.killed
    };
    let h = match with_core(|c| {
        let a = c.current?;
        if switch {
            c.actors[a].at = "syscall";
            if let AtPoint::Decide(h) = c.at_point(a) {
                return Some(Err(h));
            }
        }
        Some(Ok(enter(c, a)))
    })
    .flatten()
    {
        None => return false,
        Some(Ok(killed)) => return killed,
        Some(Err(h)) => h,
    };
    if let Some(killed) = h.and_then(|h| decide(h, enter)) {
        return killed;
    }
    suspend();
    with_core(|c| {
        let a = c.current?;
        Some(enter(c, a))
    })
    .flatten()
    .unwrap_or(false)
}

/// The scheduling point at a syscall boundary (before each call an actor
/// makes).
pub fn schedule_point() {
    yield_point("syscall");
}

/// End the current run at the next switch (a failed expectation stops the
/// execution at once).
pub fn request_stop() {
    with_core(|c| c.stop = true);
}

/// Whether the current actor has been killed (teardown or a stopped
/// execution): the interpreter stops running its statements.
#[inline]
pub fn current_killed() -> bool {
    if !KILLED.with(|k| k.get()) || !in_sim() {
        return false;
    }
    with_core(|c| c.current.map(|a| c.actors[a].killed)).flatten().unwrap_or(false)
}

/// Take the executor events recorded so far (callable from inside an
/// actor, so a step trace can interleave them with its own lines).
pub fn take_events() -> Vec<ExecEvent> {
    with_core(|c| c.events.as_mut().map(std::mem::take)).flatten().unwrap_or_default()
}

/// Call `f` with the steps recorded since step `from`, borrowed (no copy;
/// `f` must not re-enter the executor).
pub fn with_steps_since<R>(from: usize, f: impl FnOnce(&[Step]) -> R) -> R {
    let p = CORE.with(|c| c.get());
    if p.is_null() {
        return f(&[]);
    }
    // SAFETY: as in `with_core` (a shared borrow for the duration of `f`,
    // which must not re-enter the executor).
    let c = unsafe { &*p };
    let steps = c.steps.as_deref().unwrap_or(&[]);
    f(steps.get(from..).unwrap_or(&[]))
}

/// Number of steps recorded so far.
pub fn step_count() -> usize {
    with_core(|c| c.steps.as_ref().map_or(0, |s| s.len())).unwrap_or(0)
}

/// Set the current actor's call site (an opaque number the interpreter maps
/// back to file:line).
pub fn set_site(site: u32) {
    if in_sim() {
        with_core(|c| {
            if let Some(a) = c.current {
                c.actors[a].site = site;
            }
        });
    }
}

/// The current actor's call site, 0 outside the executor.
pub fn current_site() -> u32 {
    if !in_sim() {
        return 0;
    }
    with_core(|c| c.current.map(|a| c.actors[a].site)).flatten().unwrap_or(0)
}

/// The virtual clock in nanoseconds (the executor's), or a monotonic real
/// clock outside it.
pub fn now_ns() -> u64 {
    if let Some(t) = with_core(|c| c.clock_ns) {
        return t;
    }
    use std::time::Instant;
    thread_local!(static T0: Instant = Instant::now());
    T0.with(|t0| t0.elapsed().as_nanos() as u64)
}

/// Sleep on the virtual clock (a real sleep outside the executor).
pub fn sleep_ns(ns: u64) {
    if !in_sim() {
        std::thread::sleep(std::time::Duration::from_nanos(ns));
        return;
    }
    let deadline = now_ns().saturating_add(ns);
    let tok = prepare_block();
    block(tok, BlockedOn { what: "sleep", obj: 0 }, Some(deadline));
}

/// Start blocking: returns the token that wait-queue entries must carry.
pub fn prepare_block() -> u64 {
    with_core(|c| {
        let a = c.current.expect("prepare_block outside an actor");
        let r = &mut c.actors[a];
        r.armed = true;
        r.token
    })
    .expect("prepare_block outside the executor")
}

/// Block the current actor until a wake-up carrying `token`, the deadline,
/// or a kill. Entries must already be queued.
pub fn block(token: u64, on: BlockedOn, deadline: Option<u64>) -> WakeReason {
    block_as(token, on, deadline, true)
}

fn block_as(token: u64, on: BlockedOn, deadline: Option<u64>, interruptible: bool) -> WakeReason {
    let early = with_core(|c| {
        let a = c.current.expect("block outside an actor");
        let t = c.clock_ns;
        let r = &mut c.actors[a];
        if r.killed && interruptible {
            return Some(WakeReason::Killed);
        }
        r.armed = false;
        if r.token != token {
            // Lock granularity: woken between `prepare_block` and here (a
            // wake-up counts once the caller is queued, as Linux's does
            // once the task has set its state), or the token moved while
            // the caller waited for a lock in between (a spurious wake-up:
            // every sleeper re-checks its condition).
            return Some(r.wake_reason);
        }
        if let Some(ev) = c.events.as_mut() {
            ev.push(ExecEvent::Blocked { actor: a, on: on.clone(), t });
        }
        c.set_state(a, ActorState::Blocked);
        let r = &mut c.actors[a];
        r.deadline = deadline;
        r.blocked_on = Some(on);
        r.at = "block";
        None
    })
    .expect("block outside the executor");
    if let Some(why) = early {
        return why;
    }
    suspend();
    with_core(|c| {
        let a = c.current.expect("resumed outside an actor");
        c.actors[a].wake_reason
    })
    .expect("executor gone")
}

/// Make `actor` runnable if it is still blocked with `token`.
pub fn wake(actor: ActorId, token: u64) -> bool {
    with_core(|c| c.wake(actor, token, WakeReason::Woken)).unwrap_or(false)
}

/// Park the current actor until the lock at `addr` is released.
pub fn park_on_lock(addr: usize) {
    let tok = prepare_block();
    with_core(|c| {
        let a = c.current.expect("actor");
        c.lock_waiters.push((addr, a, tok));
    });
    LOCK_PARKED.with(|n| n.set(n.get() + 1));
    // mutex_lock is not interruptible: a killed actor still waits for the
    // holder, who is runnable and will release it.
    block_as(tok, BlockedOn { what: "lock", obj: addr as u64 }, None, false);
}

/// Wake every actor parked on the lock at `addr`.
pub fn unpark_lock(addr: usize) {
    if LOCK_PARKED.with(|n| n.get()) == 0 {
        return;
    }
    with_core(|c| {
        let mut i = 0;
        while i < c.lock_waiters.len() {
            if c.lock_waiters[i].0 == addr {
                let (_, a, tok) = c.lock_waiters.swap_remove(i);
                LOCK_PARKED.with(|n| n.set(n.get().saturating_sub(1)));
                c.wake(a, tok, WakeReason::Woken);
            } else {
                i += 1;
            }
        }
    });
}

impl Core {
    fn wake(&mut self, actor: ActorId, token: u64, why: WakeReason) -> bool {
        let r = &self.actors[actor];
        if r.state == ActorState::Blocked && r.token == token {
            self.set_state(actor, ActorState::Runnable);
            let r = &mut self.actors[actor];
            r.token += 1;
            r.deadline = None;
            r.blocked_on = None;
            r.wake_reason = why;
            let t = self.clock_ns;
            if let Some(ev) = self.events.as_mut() {
                ev.push(ExecEvent::Woken { actor, why, t });
            }
            true
        } else if r.armed && r.state == ActorState::Runnable && r.token == token && fine_grained() {
            // Only at lock granularity can another actor run while this one
            // is armed (see `ActorRec::armed`): the wake-up counts.
            let r = &mut self.actors[actor];
            r.token += 1;
            r.armed = false;
            r.wake_reason = why;
            true
        } else {
            false
        }
    }
}

/// What the executor does next (one pass over the core per switch).
enum Next {
    Stop,
    /// Resume an actor chosen inside the actor that ran, at this decision.
    Resume(ActorId, Option<usize>),
    /// Nothing can run.
    Idle,
    /// Only this actor can run; the number of decisions so far.
    Forced(ActorId, usize),
    /// A decision: whether `prev` can run on, its label, `prev`, the
    /// decision's index. The runnable set is in the loop's buffer.
    Choose(bool, &'static str, Option<ActorId>, usize),
}

/// Clears the chooser pointer and any pending choice from the core when
/// [`Executor::run`] ends, normally or by unwinding.
struct RunGuard;

impl Drop for RunGuard {
    fn drop(&mut self) {
        with_core(|c| {
            c.chooser = None;
            c.next = None;
        });
    }
}

impl Core {
    /// Record a decision among `runnable` that chose `c`.
    #[inline(always)]
    fn record_decision(
        &mut self,
        runnable: &[ActorId],
        c: ActorId,
        prev: Option<ActorId>,
        prev_runnable: bool,
        label: &'static str,
    ) {
        if self.full_decisions {
            self.push_decision(Decision {
                runnable: Runnable::from_slice(runnable),
                chosen: c,
                prev,
                prev_runnable,
                label,
            });
        }
        self.record_choice(c, prev_runnable);
    }

    /// Out of line: only with steps recorded.
    #[inline(never)]
    fn push_decision(&mut self, d: Decision) {
        self.decisions.push(d);
    }

    /// Start the step of actor `a` (chosen at `decision`, if there was a
    /// choice), when steps are recorded: its accesses go there from now on.
    #[inline]
    fn open_step(&mut self, a: ActorId, decision: Option<usize>) {
        if let Some(steps) = self.steps.as_mut() {
            // Most steps touch a handful of keys: kept inline.
            steps.push(Step { actor: a, decision, accesses: Footprint::new(), sig: 0, wsig: 0 });
            // Through the buffer's pointer (no reference to the step).
            let st = steps.as_mut_ptr().wrapping_add(steps.len() - 1);
            STEP.with(|r| r.set(st));
            if fine_grained() {
                NATIVE.with(|n| n.borrow_mut().clear());
                LAST_NATIVE.with(|l| l.set(None));
                CARRIED.with(|c| c.borrow_mut().clear());
            }
        }
    }

    /// Count a decision that chose `c`.
    #[inline]
    fn record_choice(&mut self, c: ActorId, prev_runnable: bool) {
        self.choices += 1;
        self.schedule.push(c);
        if prev_runnable && Some(c) != self.prev {
            self.preemptions += 1;
        }
    }
}

/// A decision at a scheduling point of the running actor (one where it is
/// not the only runnable actor) is made inside the actor when the executor
/// lets actors decide ([`Core::chooser`]): exactly what the executor would
/// decide after the switch, without the switch. If the running actor is
/// chosen it goes on; otherwise it suspends, and the executor resumes the
/// actor chosen here (or, when nothing was decided here, decides itself).
///
/// What such a decision needs, copied out of the core (the chooser may
/// call back into the executor).
struct Here {
    chooser: *mut (dyn Chooser + 'static),
    a: ActorId,
    label: &'static str,
    index: usize,
    /// The runnable actors, one bit each (all below 64).
    runnable: u64,
}

impl Core {
    /// What a decision inside the running actor `a` needs, when the
    /// executor lets actors decide ([`Core::chooser`]), nobody asked to
    /// stop, and the runnable set is small; `None` leaves the decision to
    /// the executor.
    #[inline]
    fn prepare_here(&self, a: ActorId) -> Option<Here> {
        let chooser = self.chooser?;
        if self.stop || self.runq.len() > DECIDE_HERE_MAX || !self.runq.high.is_empty() {
            return None;
        }
        Some(Here { chooser, a, label: self.actors[a].at, index: self.choices, runnable: self.runq.low })
    }
}

/// Make the decision `h` prepared by [`Core::prepare_here`]. When the
/// running actor is chosen and goes on, `then` runs in the same pass over
/// the core and its result is returned; `None` means the actor must
/// suspend (another was chosen and the executor resumes it, or a stop was
/// requested).
#[inline]
fn decide<R>(h: Here, then: impl FnOnce(&mut Core, ActorId) -> R) -> Option<R> {
    let (a, index) = (h.a, h.index);
    if h.runnable & h.runnable.wrapping_sub(1) == 0 {
        // Only this actor can run: no decision, but a chooser may see the
        // point, and end the run there.
        // SAFETY: as for `choose` below.
        unsafe { (*h.chooser).forced(a, index) };
        return with_core(|core| {
            if core.stop {
                return None;
            }
            core.open_step(a, None);
            Some(then(core, a))
        })
        .flatten();
    }
    let mut ids = [0 as ActorId; DECIDE_HERE_MAX];
    let mut n = 0;
    let mut m = h.runnable;
    while m != 0 {
        ids[n] = m.trailing_zeros() as ActorId;
        m &= m - 1;
        n += 1;
    }
    let runnable = &ids[..n];
    // The running actor is runnable and was the last to run: the choice
    // point the executor would build after the switch.
    let p = ChoicePoint { runnable, prev: Some(a), prev_runnable: true, label: h.label, index };
    // SAFETY: `Core::chooser` is set only while `Executor::run` runs and
    // points to its chooser, which it does not touch while an actor runs
    // (it is suspended in the resume of this one); no core borrow is held
    // here, so the chooser may call back into the executor.
    let c = unsafe { (*h.chooser).choose(&p) };
    assert!(runnable.contains(&c), "chooser picked a non-runnable actor");
    with_core(|core| {
        core.record_decision(runnable, c, Some(a), true, h.label);
        if core.stop {
            // The executor ends the run at the switch.
            return None;
        }
        if c == a {
            core.open_step(a, Some(index));
            return Some(then(core, a));
        }
        core.next = Some((c, index));
        None
    })
    .flatten()
}

/// The largest runnable set a decision made inside an actor handles.
const DECIDE_HERE_MAX: usize = 8;

/// How a [`Executor::run`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every actor finished.
    AllDone,
    /// Nothing can run and these actors are blocked with no deadline.
    Blocked(Vec<ActorId>),
    /// [`request_stop`] was called.
    Stopped,
}

/// Runs actors as coroutines on the calling OS thread. One executor per
/// thread at a time.
pub struct Executor {
    /// The state installed in [`CORE`], owned here (a leaked `Box`, taken
    /// back in `Drop`).
    core: *mut Core,
    cos: Vec<Option<Co>>,
    /// Every decision in full, when [`Executor::record_steps`] is on (the
    /// explorer reads the runnable sets); otherwise only `schedule`.
    decisions: Vec<Decision>,
    full_decisions: bool,
    /// The actor chosen at each decision (8 bytes a decision: a long run
    /// makes millions). Kept in the core while [`Executor::run`] runs.
    schedule: Vec<ActorId>,
}

impl Executor {
    /// Create the executor and install its state on this thread.
    pub fn new() -> Executor {
        assert!(CORE.with(|c| c.get()).is_null(), "one executor per thread at a time");
        clear_object_names();
        let core = SPARE.with(|s| s.borrow_mut().take()).unwrap_or_else(|| {
            Box::new(Core {
                actors: Vec::new(),
                runq: RunQueue::default(),
                pass_forced: false,
                current: None,
                clock_ns: 0,
                lock_waiters: Vec::new(),
                stop: false,
                yielding: None,
                events: None,
                steps: None,
                spare_names: Vec::new(),
                spare_cos: Vec::new(),
                spare_runnable: Vec::new(),
                chooser: None,
                next: None,
                prev: None,
                choices: 0,
                preemptions: 0,
                schedule: Vec::new(),
                decisions: Vec::new(),
                full_decisions: false,
            })
        });
        let mut core = core;
        let mut cos = std::mem::take(&mut core.spare_cos);
        if cos.capacity() == 0 {
            cos.reserve(8);
        }
        let core = Box::into_raw(core);
        CORE.with(|c| c.set(core));
        STEP.with(|r| r.set(std::ptr::null_mut()));
        LOCK_PARKED.with(|n| n.set(0));
        KILLED.with(|k| k.set(false));
        FINE.with(|f| f.set(false));
        NAMED_OFF.with(|f| f.set(false));
        NATIVE.with(|n| n.borrow_mut().clear());
        LAST_NATIVE.with(|l| l.set(None));
        CARRIED.with(|c| c.borrow_mut().clear());
        HELD.with(|h| h.borrow_mut().clear());
        Executor { core, cos, decisions: Vec::new(), full_decisions: false, schedule: Vec::with_capacity(32) }
    }

    /// Add an actor; it starts runnable and runs when chosen.
    pub fn spawn(&mut self, name: &str, body: impl FnOnce() + 'static) -> ActorId {
        let stack = STACKS
            .with(|s| s.borrow_mut().pop())
            .unwrap_or_else(|| DefaultStack::new(STACK_BYTES).expect("allocate an actor stack"));
        let co = Co::with_stack(stack, move |y: &Yielder<(), ()>, ()| {
            YIELDER.with(|c| c.set(y as *const _));
            body();
        });
        let id = with_core(|c| {
            let mut buf = c.spare_names.pop().unwrap_or_default();
            buf.clear();
            buf.push_str(name);
            c.actors.push(ActorRec {
                name: buf,
                state: ActorState::Runnable,
                token: 0,
                deadline: None,
                wake_reason: WakeReason::Woken,
                blocked_on: None,
                killed: false,
                site: 0,
                at: "start",
                armed: false,
            });
            let id = c.actors.len() - 1;
            c.runq.insert(id);
            id
        })
        .expect("executor installed");
        self.cos.push(Some(co));
        id
    }

    /// Run until every actor is done or nothing can run.
    pub fn run(&mut self, chooser: &mut dyn Chooser) -> RunEnd {
        let pass = !chooser.observes_forced();
        // One raw pointer for every use of the chooser during the run, here
        // and (through the core) inside actors.
        let chooser: *mut (dyn Chooser + '_) = chooser;
        // SAFETY: only the lifetime bound of the trait object changes (the
        // layout is the same); the pointer stays in the core only until
        // `_guard` drops, before this function returns or unwinds, while
        // `chooser` is still borrowed.
        let erased: *mut (dyn Chooser + 'static) = unsafe { std::mem::transmute(chooser) };
        let schedule = std::mem::take(&mut self.schedule);
        let decisions = std::mem::take(&mut self.decisions);
        let full = self.full_decisions;
        with_core(|c| {
            c.schedule = schedule;
            c.decisions = decisions;
            c.full_decisions = full;
            c.next = None;
            c.chooser = Some(erased);
        });
        let _guard = RunGuard;
        // The core's buffer, out of the core while the chooser may reach it.
        let mut runnable = with_core(|c| std::mem::take(&mut c.spare_runnable)).unwrap_or_default();
        let end = self.run_loop(chooser, pass, &mut runnable);
        with_core(|c| c.spare_runnable = runnable);
        if let Some((schedule, decisions)) =
            with_core(|c| (std::mem::take(&mut c.schedule), std::mem::take(&mut c.decisions)))
        {
            self.schedule = schedule;
            self.decisions = decisions;
        }
        end
    }

    fn run_loop(&mut self, chooser: *mut (dyn Chooser + '_), pass: bool, runnable: &mut Vec<ActorId>) -> RunEnd {
        // SAFETY (every `(*chooser)` below): `chooser` comes from the `&mut`
        // that `run` holds for this whole call; it is used here only
        // between resumes, and inside an actor only while this function
        // is suspended in a resume, so no two uses overlap.
        loop {
            let step = with_core(|c| {
                if std::mem::take(&mut c.stop) {
                    return Next::Stop;
                }
                if let Some((a, d)) = c.next.take() {
                    // Decided inside the actor that ran.
                    return Next::Resume(a, Some(d));
                }
                c.pass_forced = pass && c.steps.is_none();
                // An actor at a spin point lets the others go first.
                let skip = c.yielding.take().filter(|_| c.runq.len() > 1);
                match c.runq.len() - usize::from(skip.is_some()) {
                    0 => Next::Idle,
                    1 => match skip {
                        None => Next::Forced(c.runq.first(), c.choices),
                        Some(y) => Next::Forced(c.runq.iter().find(|&a| a != y).expect("runnable"), c.choices),
                    },
                    _ => {
                        runnable.clear();
                        runnable.extend(c.runq.iter().filter(|&a| Some(a) != skip));
                        let (prev_runnable, label) = match c.prev {
                            Some(p) if Some(p) != skip => (c.actors[p].state == ActorState::Runnable, c.actors[p].at),
                            Some(p) => (false, c.actors[p].at),
                            None => (false, "start"),
                        };
                        Next::Choose(prev_runnable, label, c.prev, c.choices)
                    }
                }
            })
            .expect("executor installed");
            match step {
                Next::Stop => return RunEnd::Stopped,
                Next::Resume(a, d) => self.resume(a, d),
                Next::Idle => {
                    // Advance the virtual clock to the earliest deadline, if any.
                    let advanced = with_core(|c| {
                        let t =
                            c.actors.iter().filter(|r| r.state == ActorState::Blocked).filter_map(|r| r.deadline).min();
                        let Some(t) = t else { return false };
                        c.clock_ns = c.clock_ns.max(t);
                        for a in 0..c.actors.len() {
                            let r = &c.actors[a];
                            if r.state == ActorState::Blocked && r.deadline.is_some_and(|d| d <= t) {
                                let tok = r.token;
                                c.wake(a, tok, WakeReason::TimedOut);
                            }
                        }
                        true
                    })
                    .unwrap_or(false);
                    if advanced {
                        continue;
                    }
                    let blocked: Vec<ActorId> = with_core(|c| {
                        c.actors
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.state == ActorState::Blocked)
                            .map(|(i, _)| i)
                            .collect()
                    })
                    .unwrap_or_default();
                    return if blocked.is_empty() { RunEnd::AllDone } else { RunEnd::Blocked(blocked) };
                }
                Next::Forced(a, choices) => {
                    // SAFETY: see the top of this function.
                    unsafe { (*chooser).forced(a, choices) };
                    if with_core(|c| std::mem::take(&mut c.stop)).unwrap_or(false) {
                        return RunEnd::Stopped;
                    }
                    self.resume(a, None);
                }
                Next::Choose(prev_runnable, label, prev, index) => {
                    let p = ChoicePoint { runnable, prev, prev_runnable, label, index };
                    // SAFETY: see the top of this function.
                    let c = unsafe { (*chooser).choose(&p) };
                    assert!(runnable.contains(&c), "chooser picked a non-runnable actor");
                    // A chooser may end the run here (the explorer prunes a
                    // schedule its sleep set proves redundant).
                    let stop = with_core(|core| {
                        core.record_decision(runnable, c, prev, prev_runnable, label);
                        std::mem::take(&mut core.stop)
                    })
                    .unwrap_or(false);
                    if stop {
                        return RunEnd::Stopped;
                    }
                    self.resume(c, Some(index));
                }
            }
        }
    }

    fn resume(&mut self, a: ActorId, decision: Option<usize>) {
        with_core(|c| {
            c.current = Some(a);
            c.prev = Some(a);
            c.open_step(a, decision);
        });
        let co = self.cos[a].as_mut().expect("actor has a coroutine");
        let saved = YIELDER.with(|y| y.get());
        let res = co.resume(());
        STEP.with(|r| r.set(std::ptr::null_mut()));
        YIELDER.with(|y| y.set(saved));
        // `current` stays: it is read only inside an actor (every reader
        // checks `in_sim()` first or is reached only from an actor).
        if let CoroutineResult::Return(()) = res {
            self.finished(a);
        }
    }

    /// The actor returned: done, its stack back to the pool. (Out of
    /// line: once per actor, while `resume` runs at every switch.)
    #[inline(never)]
    fn finished(&mut self, a: ActorId) {
        with_core(|c| {
            c.set_state(a, ActorState::Done);
            c.actors[a].at = "exit";
        });
        if let Some(co) = self.cos[a].take() {
            let stack = co.into_stack();
            STACKS.with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < STACK_POOL_MAX {
                    s.push(stack);
                }
            });
        }
    }

    /// Set how finely actors interleave from now on (the executor starts
    /// at [`Granularity::Call`](super::Granularity::Call)).
    pub fn set_granularity(&mut self, g: super::Granularity) {
        FINE.with(|f| f.set(g == super::Granularity::Lock));
    }

    /// Whether named yield points are scheduling points (the default) or do
    /// nothing (`--no-named-yield-points`).
    pub fn set_named_yield_points(&mut self, on: bool) {
        NAMED_OFF.with(|f| f.set(!on));
    }

    /// Record [`ExecEvent`]s from now on.
    pub fn record_events(&mut self) {
        with_core(|c| c.events = Some(Vec::new()));
    }

    /// Record [`Step`]s (footprints for partial-order reduction) from now
    /// on, and every [`Decision`] in full (the explorer's analysis reads
    /// the runnable sets).
    pub fn record_steps(&mut self) {
        let mut steps = SPARE_STEPS.with(Cell::take);
        if steps.capacity() == 0 {
            steps.reserve(64);
        }
        if self.decisions.capacity() == 0 {
            self.decisions = SPARE_DECISIONS.with(Cell::take);
        }
        with_core(|c| c.steps = Some(steps));
        self.full_decisions = true;
    }

    /// The steps recorded so far.
    pub fn steps(&self) -> Vec<Step> {
        with_core(|c| c.steps.clone()).flatten().unwrap_or_default()
    }

    /// Take the steps recorded so far (recording goes on from empty).
    pub fn take_steps(&mut self) -> Vec<Step> {
        with_core(|c| c.steps.as_mut().map(std::mem::take)).flatten().unwrap_or_default()
    }

    /// Take the events recorded so far.
    pub fn take_events(&mut self) -> Vec<ExecEvent> {
        take_events()
    }

    /// Kill every actor that has not finished (a fatal signal: a sleep
    /// returns [`WakeReason::Killed`], the interpreter stops at its next
    /// statement) and run them all to completion without preemption. Used
    /// at teardown and when an execution stops early. Steps and full
    /// decisions are no longer recorded from here (teardown is no part of
    /// the execution: take them first), so the killed actors run through
    /// their scheduling points without a switch where they can.
    pub fn kill_all(&mut self) {
        KILLED.with(|k| k.set(true));
        self.full_decisions = false;
        with_core(|c| {
            c.steps = None;
            for a in 0..c.actors.len() {
                if c.actors[a].state != ActorState::Done {
                    c.actors[a].killed = true;
                    let tok = c.actors[a].token;
                    c.wake(a, tok, WakeReason::Killed);
                }
            }
        });
        loop {
            match self.run(&mut RunToBlock) {
                RunEnd::Stopped => continue,
                end => {
                    debug_assert_eq!(end, RunEnd::AllDone, "a killed actor blocked again");
                    break;
                }
            }
        }
    }

    /// Whether the actor was killed at teardown.
    pub fn killed(&self, a: ActorId) -> bool {
        with_core(|c| c.actors[a].killed).unwrap_or(false)
    }

    pub fn state(&self, a: ActorId) -> ActorState {
        with_core(|c| c.actors[a].state).expect("executor installed")
    }

    pub fn blocked_on(&self, a: ActorId) -> Option<BlockedOn> {
        with_core(|c| c.actors[a].blocked_on.clone()).flatten()
    }

    pub fn name(&self, a: ActorId) -> String {
        with_core(|c| c.actors[a].name.clone()).unwrap_or_default()
    }

    pub fn actor_count(&self) -> usize {
        self.cos.len()
    }

    /// The decisions with a real choice, in order (recorded in full only
    /// with [`Executor::record_steps`]; see [`Executor::schedule`]).
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Take the decisions (the count of choices made goes on).
    pub fn take_decisions(&mut self) -> Vec<Decision> {
        std::mem::take(&mut self.decisions)
    }

    /// The actor chosen at every decision so far, in order.
    pub fn schedule(&self) -> &[ActorId] {
        &self.schedule
    }

    /// Take the schedule (the count of choices made goes on).
    pub fn take_schedule(&mut self) -> Vec<ActorId> {
        std::mem::take(&mut self.schedule)
    }

    /// Decisions so far that switched away from an actor that could have
    /// gone on.
    pub fn preemptions(&self) -> usize {
        with_core(|c| c.preemptions).unwrap_or(0)
    }

    pub fn clock_ns(&self) -> u64 {
        with_core(|c| c.clock_ns).unwrap_or(0)
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // No step is open (a resume that unwound left it set).
        STEP.with(|r| r.set(std::ptr::null_mut()));
        // Dropping a suspended coroutine unwinds its stack; that may run
        // kernel code (guards, file puts) that looks at the core, so keep
        // the core until the coroutines are gone.
        for co in self.cos.iter_mut() {
            if let Some(co) = co.take() {
                if co.started() && !co.done() {
                    drop(co);
                } else {
                    let stack = co.into_stack();
                    STACKS.with(|s| {
                        let mut s = s.borrow_mut();
                        if s.len() < STACK_POOL_MAX {
                            s.push(stack);
                        }
                    });
                }
            }
        }
        CORE.with(|c| c.set(std::ptr::null_mut()));
        // SAFETY: `self.core` came from `Box::into_raw` in `new` and is
        // released only here; the thread-local no longer points to it.
        let mut core = unsafe { Box::from_raw(self.core) };
        core.reset();
        self.cos.clear();
        core.spare_cos = std::mem::take(&mut self.cos);
        SPARE.with(|s| *s.borrow_mut() = Some(core));
        LOCK_PARKED.with(|n| n.set(0));
        KILLED.with(|k| k.set(false));
        FINE.with(|f| f.set(false));
        NAMED_OFF.with(|f| f.set(false));
        NATIVE.with(|n| n.borrow_mut().clear());
        LAST_NATIVE.with(|l| l.set(None));
        CARRIED.with(|c| c.borrow_mut().clear());
        HELD.with(|h| h.borrow_mut().clear());
    }
}

impl Core {
    /// Empty, keeping the buffers' capacity for the next executor.
    fn reset(&mut self) {
        let Core {
            actors,
            runq,
            pass_forced,
            current,
            clock_ns,
            lock_waiters,
            stop,
            yielding,
            events,
            steps,
            spare_names,
            spare_cos: _,
            spare_runnable: _,
            chooser,
            next,
            prev,
            choices,
            preemptions,
            schedule,
            decisions,
            full_decisions,
        } = self;
        decisions.clear();
        *full_decisions = false;
        spare_names.extend(actors.drain(..).map(|r| r.name));
        *chooser = None;
        *next = None;
        *prev = None;
        *choices = 0;
        *preemptions = 0;
        schedule.clear();
        runq.clear();
        *pass_forced = false;
        *current = None;
        *clock_ns = 0;
        lock_waiters.clear();
        *stop = false;
        *yielding = None;
        *events = None;
        *steps = None;
    }
}

/// Hand back an execution's steps once read (the explorer drops them after
/// each execution): the next executor on this thread that records steps
/// reuses the buffer instead of allocating one.
pub fn recycle_steps(mut steps: Vec<Step>) {
    steps.clear();
    SPARE_STEPS.with(|s| {
        let old = s.take();
        s.set(if old.capacity() > steps.capacity() { old } else { steps });
    });
}

/// Hand back an execution's decisions once read, as [`recycle_steps`].
pub fn recycle_decisions(mut decisions: Vec<Decision>) {
    decisions.clear();
    SPARE_DECISIONS.with(|s| {
        let old = s.take();
        s.set(if old.capacity() > decisions.capacity() { old } else { decisions });
    });
}

/// Block in poll(2) after the file's `->poll` queued this actor with
/// `token`.
pub fn poll_block(token: u64, obj: u64, deadline: Option<u64>) -> WakeReason {
    block(token, BlockedOn { what: "poll", obj }, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_queue_lists_ids_in_order_across_the_bitmap_boundary() {
        let mut q = RunQueue::default();
        for a in [70, 3, 65, 0, 63, 64] {
            q.insert(a);
        }
        assert_eq!(q.len(), 6);
        assert_eq!(q.iter().collect::<Vec<_>>(), [0, 3, 63, 64, 65, 70]);
        q.remove(3);
        q.remove(0);
        q.remove(63);
        assert_eq!(q.first(), 64);
        assert_eq!(q.iter().collect::<Vec<_>>(), [64, 65, 70]);
        q.remove(65);
        q.insert(1);
        assert_eq!((q.len(), q.first()), (3, 1));
        assert_eq!(q.iter().collect::<Vec<_>>(), [1, 64, 70]);
        q.clear();
        assert_eq!((q.len(), q.iter().count()), (0, 0));
    }
    /// Chooses `script[i]` at the i-th decision when it can run, else the
    /// lowest runnable id; records every decision's label.
    struct Script {
        script: Vec<ActorId>,
        labels: Vec<&'static str>,
    }

    impl Chooser for Script {
        fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
            self.labels.push(p.label);
            match self.script.get(p.index) {
                Some(&a) if p.runnable.contains(&a) => a,
                _ => p.runnable[0],
            }
        }
    }

    fn script(s: &[ActorId]) -> Script {
        Script { script: s.to_vec(), labels: Vec::new() }
    }

    #[test]
    fn fine_points_are_scheduling_points_only_at_lock_granularity() {
        for g in [super::super::Granularity::Call, super::super::Granularity::Lock] {
            let mut ex = Executor::new();
            ex.set_granularity(g);
            for name in ["a", "b"] {
                ex.spawn(name, || {
                    fine_point("lock");
                    fine_point("atomic");
                    fine_point("wake");
                });
            }
            let mut ch = script(&[]);
            assert_eq!(ex.run(&mut ch), RunEnd::AllDone);
            match g {
                super::super::Granularity::Call => assert_eq!(ch.labels, ["start"]),
                super::super::Granularity::Lock => assert_eq!(ch.labels, ["start", "lock", "atomic", "wake"]),
            }
        }
    }

    #[test]
    fn named_yield_points_can_be_turned_off() {
        for on in [true, false] {
            let mut ex = Executor::new();
            ex.set_named_yield_points(on);
            ex.spawn("a", || yield_point("test:window"));
            ex.spawn("b", || {});
            let mut ch = script(&[]);
            ex.run(&mut ch);
            assert_eq!(ch.labels.contains(&"test:window"), on);
        }
    }

    /// At lock granularity, taking a lock is a write to the key reported
    /// just before it, in the acquiring step; a lock held across a point
    /// parks the second taker, whose acquisition carries the key too.
    #[test]
    fn a_lock_acquisition_writes_the_key_reported_before_it_and_a_held_lock_parks() {
        use std::rc::Rc;
        const K: u64 = 42;
        let mut ex = Executor::new();
        ex.set_granularity(super::super::Granularity::Lock);
        ex.record_steps();
        ex.record_events();
        let m = Rc::new(crate::sync::Mutex::new(0u32));
        let m2 = m.clone();
        ex.spawn("holder", move || {
            access(K, false);
            let mut g = m.lock();
            fine_point("atomic");
            *g += 1;
        });
        ex.spawn("taker", move || {
            access(K, false);
            *m2.lock() += 10;
        });
        // start: holder; its lock point: holder; its atomic point (lock
        // held): taker, whose lock point: taker, which parks.
        let mut ch = script(&[0, 0, 1, 1]);
        assert_eq!(ex.run(&mut ch), RunEnd::AllDone);
        assert_eq!(ch.labels[..4], ["start", "lock", "atomic", "lock"]);
        let steps = ex.steps();
        for d in [1, 3] {
            let st = steps.iter().find(|s| s.decision == Some(d)).expect("a step chosen at the decision");
            assert!(st.accesses.contains(&(K, true)), "decision {d}: {st:?}");
        }
        // The holder's step after its atomic point still carries the key;
        // the step before the acquisition only announced it, and does not.
        let holder: Vec<&Step> = steps.iter().filter(|s| s.actor == 0).collect();
        assert!(!holder[0].accesses.iter().any(|(k, _)| *k == K), "{:?}", holder[0]);
        assert!(holder[1..3].iter().all(|s| s.accesses.contains(&(K, true))), "{holder:?}");
        let events = take_events();
        assert!(
            events.iter().any(|e| matches!(e, ExecEvent::Blocked { actor: 1, on, .. } if on.what == "lock")),
            "{events:?}"
        );
    }

    /// The lock's key is the last one reported before it, and only it
    /// becomes a write: a look reported before it stays a look. A key the
    /// step looked at before announcing the lock stays a look in that
    /// step; one it did not touch leaves it.
    #[test]
    fn only_the_lock_key_is_written_and_only_an_announcement_moves() {
        const J: u64 = 7;
        const K: u64 = 42;
        for touched_before in [false, true] {
            let mut ex = Executor::new();
            ex.set_granularity(super::super::Granularity::Lock);
            ex.record_steps();
            let m = crate::sync::Mutex::new(0u32);
            ex.spawn("a", move || {
                if touched_before {
                    access(K, false);
                }
                access(J, false);
                access(K, false);
                *m.lock() += 1;
            });
            ex.spawn("b", || {});
            let mut ch = script(&[0, 0, 0]);
            assert_eq!(ex.run(&mut ch), RunEnd::AllDone);
            let steps = ex.steps();
            let a: Vec<&Step> = steps.iter().filter(|s| s.actor == 0).collect();
            assert_eq!(ch.labels[..2], ["start", "lock"]);
            let before: &[(u64, bool)] = if touched_before { &[(K, false)] } else { &[] };
            assert_eq!(a[0].accesses.iter().filter(|(k, _)| *k == K).copied().collect::<Vec<_>>(), before);
            assert!(a[0].accesses.contains(&(J, false)), "{:?}", a[0]);
            assert!(a[1].accesses.contains(&(J, false)) && a[1].accesses.contains(&(K, true)), "{:?}", a[1]);
            // The signature matches the footprint left.
            let sig = a[0].accesses.iter().fold(0, |m, (k, _)| m | key_bit(*k));
            assert_eq!((a[0].sig, a[0].wsig), (sig, 0));
        }
    }

    /// The release of a lock taken at lock granularity is a scheduling
    /// point (Linux's `preempt_enable()` at the end of `spin_unlock`); a
    /// sleeper's release right before it blocks is not (the block is one).
    #[test]
    fn a_release_is_a_scheduling_point_at_lock_granularity() {
        for g in [super::super::Granularity::Call, super::super::Granularity::Lock] {
            let mut ex = Executor::new();
            ex.set_granularity(g);
            let m = crate::sync::Mutex::new(0u32);
            ex.spawn("a", move || {
                *m.lock() += 1;
                let q = m.lock_quiet();
                drop(q);
            });
            ex.spawn("b", || {});
            let mut ch = script(&[]);
            assert_eq!(ex.run(&mut ch), RunEnd::AllDone);
            match g {
                super::super::Granularity::Call => assert_eq!(ch.labels, ["start"]),
                super::super::Granularity::Lock => assert_eq!(ch.labels, ["start", "lock", "unlock"]),
            }
        }
    }

    /// A spin point lets the other actors go first: a chooser that always
    /// runs the previous actor on would otherwise spin for ever.
    #[test]
    fn a_spinning_actor_lets_the_others_run() {
        use std::rc::Rc;
        let mut ex = Executor::new();
        ex.set_granularity(super::super::Granularity::Lock);
        let flag = Rc::new(Cell::new(false));
        let f2 = flag.clone();
        ex.spawn("spinner", move || {
            let mut n = 0;
            while !flag.get() {
                spin_point("spin");
                n += 1;
                assert!(n < 10, "spun on");
            }
        });
        ex.spawn("setter", move || f2.set(true));
        assert_eq!(ex.run(&mut RunToBlock), RunEnd::AllDone);
    }

    /// At lock granularity a point can fall between `prepare_block` and
    /// `block` (poll queues itself under locks that are points): a wake-up
    /// there counts, and the block returns at once.
    #[test]
    fn a_wake_up_between_prepare_and_block_counts_at_lock_granularity() {
        use std::rc::Rc;
        let mut ex = Executor::new();
        ex.set_granularity(super::super::Granularity::Lock);
        let tok = Rc::new(Cell::new(None));
        let t2 = tok.clone();
        let got = Rc::new(Cell::new(None));
        let g2 = got.clone();
        ex.spawn("sleeper", move || {
            tok.set(Some(prepare_block()));
            fine_point("lock");
            g2.set(Some(block(tok.get().unwrap(), BlockedOn { what: "test", obj: 0 }, None)));
        });
        ex.spawn("waker", move || {
            assert!(wake(0, t2.get().expect("the sleeper prepared")));
        });
        let mut ch = script(&[0, 1]);
        assert_eq!(ex.run(&mut ch), RunEnd::AllDone);
        assert_eq!(got.get(), Some(WakeReason::Woken));
    }
}
