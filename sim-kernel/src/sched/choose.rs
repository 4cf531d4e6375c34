//! The schedule choosers `ksim run` and `ksim replay` use, and the PCT chooser
//! of `ksim explore --pct` (the systematic search has
//! its own), and the schedule string format.
//!
//! A schedule is the list of actors chosen at each point where more than
//! one could run. Its string form is `v1:` followed by the choices in
//! decimal, separated by `.` (`v1:0.2.1`); `v1:` alone is the schedule with
//! no choices. Actor numbers are the scenario's: its actors in file order
//! from 0, then `finally`.

use super::exec::{ChoicePoint, Chooser};
use super::ActorId;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The schedule format version: a seed or a string means the same schedule
/// in every release that prints this version.
pub const SCHEDULE_VERSION: &str = "v1";

/// Picks uniformly among runnable actors with ChaCha8 seeded by the seed.
pub struct SeededChooser {
    rng: ChaCha8Rng,
}

impl SeededChooser {
    pub fn new(seed: u64) -> Self {
        SeededChooser { rng: ChaCha8Rng::seed_from_u64(seed) }
    }
}

impl Chooser for SeededChooser {
    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        // Rejection sampling keeps the pick exactly uniform and independent
        // of any library's range algorithm.
        let n = p.runnable.len() as u64;
        if n.is_power_of_two() {
            // The same picks without the divisions: `u64::MAX % n` is
            // `n - 1` and `x % n` is `x & (n - 1)`.
            let zone = u64::MAX - (n - 1);
            loop {
                let x = self.rng.next_u64();
                if x < zone {
                    return p.runnable[(x & (n - 1)) as usize];
                }
            }
        }
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.rng.next_u64();
            if x < zone {
                return p.runnable[(x % n) as usize];
            }
        }
    }

    fn observes_forced(&self) -> bool {
        false
    }
}

/// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi,
/// Nagarakatte, "A Randomized Scheduler with Probabilistic Guarantees of
/// Finding Bugs", ASPLOS 2010). Each actor gets a distinct random priority
/// from `depth .. depth + actors`; `depth - 1` priority change points are
/// drawn uniformly from the steps `1..=steps` (the estimated number of
/// scheduling points of an execution). At every scheduling point the
/// highest-priority runnable actor runs; when the step count reaches the
/// `j`-th change point, the actor about to run drops to priority `j`
/// (below every initial priority) and the choice is made again. For a bug
/// of depth `d` (the number of ordering constraints it needs), one
/// execution finds it with probability at least `1 / (n * k^(d-1))`.
///
/// A scheduling point is counted whether or not it is a choice (the
/// executor reports forced steps through [`Chooser::forced`]), as in the
/// paper, where every step of the program counts.
pub struct PctChooser {
    /// Priority per executor actor id.
    prio: Vec<u64>,
    /// `(step, new priority)`, sorted by step.
    changes: Vec<(u64, u64)>,
    /// Scheduling points seen so far in this execution.
    pub steps: u64,
}

impl PctChooser {
    /// `actors`: executor actor ids are below it; `steps`: the estimate of
    /// scheduling points per execution (at least 1); `depth`: the bug depth
    /// to target (1 = no change point).
    pub fn new(seed: u64, actors: usize, steps: u64, depth: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = depth.max(1) as u64;
        // A uniform random permutation (Fisher-Yates) of d .. d + actors.
        let mut prio: Vec<u64> = (0..actors as u64).map(|i| d + i).collect();
        for i in (1..prio.len()).rev() {
            let j = uniform(&mut rng, i as u64 + 1) as usize;
            prio.swap(i, j);
        }
        let k = steps.max(1);
        let mut changes: Vec<(u64, u64)> = (1..d).map(|j| (1 + uniform(&mut rng, k), j)).collect();
        // At one step, the later change point (the lower priority) wins.
        changes.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        PctChooser { prio, changes, steps: 0 }
    }

    fn prio_of(&self, a: ActorId) -> u64 {
        // Actors beyond the announced count (none in practice) rank last.
        self.prio.get(a).copied().unwrap_or(0)
    }

    fn step(&mut self, runnable: &[ActorId]) -> ActorId {
        self.steps += 1;
        let pick = |s: &Self| runnable.iter().copied().max_by_key(|a| (s.prio_of(*a), std::cmp::Reverse(*a)));
        let mut a = pick(self).unwrap_or(0);
        while let Some(&(at, p)) = self.changes.first() {
            if at > self.steps {
                break;
            }
            self.changes.remove(0);
            if at == self.steps {
                if let Some(x) = self.prio.get_mut(a) {
                    *x = p;
                }
                a = pick(self).unwrap_or(a);
            }
        }
        a
    }
}

/// A uniform integer in `0..n` (n > 0) by rejection sampling.
fn uniform(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

impl Chooser for PctChooser {
    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        self.step(p.runnable)
    }

    fn forced(&mut self, actor: ActorId, _decisions: usize) {
        self.step(&[actor]);
    }
}

/// Replays a recorded list of choices (executor actor ids); when they run
/// out, keeps running the previous actor while it can, else the lowest.
pub struct ReplayChooser {
    choices: Vec<ActorId>,
    next: usize,
    /// Set when a recorded choice was not runnable at its point.
    pub mismatch: Option<usize>,
}

impl ReplayChooser {
    pub fn new(choices: Vec<ActorId>) -> Self {
        ReplayChooser { choices, next: 0, mismatch: None }
    }

    /// Whether every recorded choice was used.
    pub fn exhausted(&self) -> bool {
        self.next >= self.choices.len()
    }
}

impl Chooser for ReplayChooser {
    fn choose(&mut self, p: &ChoicePoint<'_>) -> ActorId {
        if let Some(&c) = self.choices.get(self.next) {
            self.next += 1;
            if p.runnable.contains(&c) {
                return c;
            }
            self.mismatch.get_or_insert(self.next - 1);
        }
        super::exec::RunToBlock.choose(p)
    }

    fn observes_forced(&self) -> bool {
        false
    }
}

/// Format choices (scenario actor numbers) as a schedule string.
pub fn format_schedule(choices: &[usize]) -> String {
    let mut s = Vec::with_capacity(SCHEDULE_VERSION.len() + 1 + 2 * choices.len());
    s.extend_from_slice(SCHEDULE_VERSION.as_bytes());
    s.push(b':');
    let mut digits = [0u8; 20];
    for (i, &c) in choices.iter().enumerate() {
        if i > 0 {
            s.push(b'.');
        }
        // Decimal digits without the formatting machinery (a long run's
        // schedule has millions of choices, most of them one digit).
        if c < 10 {
            s.push(b'0' + c as u8);
            continue;
        }
        let (mut n, mut k) = (c, digits.len());
        loop {
            k -= 1;
            digits[k] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        s.extend_from_slice(&digits[k..]);
    }
    String::from_utf8(s).expect("a schedule string is ASCII")
}

/// Parse a schedule string; the error says what is wrong.
pub fn parse_schedule(s: &str) -> Result<Vec<usize>, String> {
    let s = s.trim();
    let Some(rest) = s.strip_prefix(SCHEDULE_VERSION).and_then(|r| r.strip_prefix(':')) else {
        return Err(format!("a schedule starts with `{SCHEDULE_VERSION}:` (got `{s}`)"));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('.')
        .enumerate()
        .map(|(i, part)| {
            part.parse::<usize>()
                .map_err(|_| format!("choice {} of the schedule, `{part}`, is not an actor number", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_strings_round_trip() {
        for v in [vec![], vec![0], vec![3, 0, 12, 1]] {
            assert_eq!(parse_schedule(&format_schedule(&v)).unwrap(), v);
        }
        assert!(parse_schedule("0.1").is_err());
        assert!(parse_schedule("v1:0.x").is_err());
    }

    fn pct_picks(seed: u64, depth: u32) -> Vec<ActorId> {
        let runnable = [0, 1, 2];
        let mut c = PctChooser::new(seed, 3, 10, depth);
        (0..10)
            .map(|i| {
                c.choose(&ChoicePoint { runnable: &runnable, prev: None, prev_runnable: false, label: "x", index: i })
            })
            .collect()
    }

    #[test]
    fn pct_is_reproducible_and_changes_priority_at_change_points() {
        assert_eq!(pct_picks(5, 3), pct_picks(5, 3));
        for seed in 0..50 {
            // Depth 1: no change point, the top-priority actor always runs.
            let p = pct_picks(seed, 1);
            assert!(p.iter().all(|a| *a == p[0]), "seed {seed}: {p:?}");
            // Depth 2: one change point demotes the running actor once, to
            // below everyone: at most one switch.
            let p = pct_picks(seed, 2);
            assert!(p.windows(2).filter(|w| w[0] != w[1]).count() <= 1, "seed {seed}: {p:?}");
        }
        // Over many seeds, every actor gets the top priority sometime, and
        // with depth 2 some execution switches.
        let firsts: std::collections::BTreeSet<_> = (0..50).map(|s| pct_picks(s, 1)[0]).collect();
        assert_eq!(firsts.len(), 3);
        assert!((0..50).any(|s| pct_picks(s, 2).windows(2).any(|w| w[0] != w[1])));
    }

    #[test]
    fn seeded_chooser_picks_by_rejection_sampling() {
        // The stream `ksim run --seed N` prints is fixed: every set size
        // (powers of two take a path without divisions) picks exactly as
        // `uniform` over the same generator.
        for n in 1..=6usize {
            let runnable: Vec<ActorId> = (0..n).map(|i| 10 + i).collect();
            let mut c = SeededChooser::new(3);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            for i in 0..200 {
                let p = ChoicePoint { runnable: &runnable, prev: None, prev_runnable: false, label: "x", index: i };
                assert_eq!(c.choose(&p), runnable[uniform(&mut rng, n as u64) as usize], "n {n}, pick {i}");
            }
        }
    }

    #[test]
    fn seeded_chooser_is_reproducible() {
        let runnable = [1, 4, 7];
        let pick = |seed| {
            let mut c = SeededChooser::new(seed);
            (0..20)
                .map(|i| {
                    c.choose(&ChoicePoint {
                        runnable: &runnable,
                        prev: None,
                        prev_runnable: false,
                        label: "x",
                        index: i,
                    })
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(7), pick(7));
        assert_ne!(pick(7), pick(8));
    }
}
