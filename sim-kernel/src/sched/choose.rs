//! The schedule choosers `ksim run` and `ksim replay` use (the explorer has
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
    let mut s = String::from(SCHEDULE_VERSION);
    s.push(':');
    for (i, c) in choices.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(&c.to_string());
    }
    s
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
