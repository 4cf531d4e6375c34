//! The discrete-event engine: a queue of events ordered by (time in
//! picoseconds, sequence number).
//!
//! Every hardware model in this crate advances only by popping events from an
//! [`EventQueue`]; nothing reads a wall clock. Two events due at the same
//! picosecond run in the order they were scheduled (the sequence number is a
//! stable tie-break), so a run is a pure function of its inputs. This is the
//! total order "(time, seq)" that a future scheduler needs to interleave one
//! hardware event between two actor steps: [`EventQueue::peek`] names the next
//! event as a discrete step and [`EventQueue::pop`] runs exactly that one.
//!
//! Key types: [`Ps`] (simulated time), [`EventQueue`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Simulated time in picoseconds. A `u64` covers 213 days, far beyond the
/// longest timer the model arms (the 8796 s local ACK timeout at exponent 31).
pub type Ps = u64;

/// Picoseconds per nanosecond, for readable constants.
pub const NS: Ps = 1_000;
/// Picoseconds per microsecond.
pub const US: Ps = 1_000_000;

/// A heap key: the event's (time, seq) and the slot holding its payload.
/// Only these 24 bytes move when the heap reorders; the payload stays put.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    time: Ps,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest
    /// (time, seq) first. `seq` is unique, so `slot` never decides.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of events of type `E`, popped in (time, seq) order.
///
/// `now` is the time of the last popped event; scheduling an event before it
/// is a model bug and panics, since it would break causality.
pub struct EventQueue<E> {
    heap: BinaryHeap<Key>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
    now: Ps,
    processed: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), next_seq: 0, now: 0, processed: 0 }
    }

    /// The time of the last event popped (or the last [`advance_to`](Self::advance_to)).
    pub fn now(&self) -> Ps {
        self.now
    }

    /// Moves the clock forward to `t` without running anything (an external
    /// actor acted at `t`). Never moves it backwards.
    pub fn advance_to(&mut self, t: Ps) {
        self.now = self.now.max(t);
    }

    /// Schedules `event` at time `at` and returns its sequence number.
    ///
    /// # Panics
    /// If `at` is earlier than [`now`](Self::now).
    pub fn schedule(&mut self, at: Ps, event: E) -> u64 {
        assert!(at >= self.now, "event scheduled in the past: {at} < {}", self.now);
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(event);
                i
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() as u32 - 1
            }
        };
        self.heap.push(Key { time: at, seq, slot });
        seq
    }

    /// The (time, seq) of the next event, without running it.
    pub fn peek(&self) -> Option<(Ps, u64)> {
        self.heap.peek().map(|e| (e.time, e.seq))
    }

    /// The time of the next event.
    pub fn next_deadline(&self) -> Option<Ps> {
        self.heap.peek().map(|e| e.time)
    }

    /// Removes the next event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(Ps, E)> {
        let k = self.heap.pop()?;
        self.now = k.time;
        self.processed += 1;
        let event = self.slots[k.slot as usize].take().expect("slot holds the event");
        self.free.push(k.slot);
        Some((k.time, event))
    }

    /// Removes the next event if it is due at or before `now`.
    pub fn pop_due(&mut self, now: Ps) -> Option<(Ps, E)> {
        if self.heap.peek()?.time <= now {
            self.pop()
        } else {
            None
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events popped since creation (the model's work, for throughput figures).
    pub fn processed(&self) -> u64 {
        self.processed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_sequence_order() {
        let mut q = EventQueue::new();
        q.schedule(20, "c");
        q.schedule(10, "a");
        q.schedule(20, "d");
        q.schedule(10, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(10, "a"), (10, "b"), (20, "c"), (20, "d")]);
        assert_eq!(q.now(), 20);
        assert_eq!(q.processed(), 4);
    }

    #[test]
    fn pop_due_respects_the_horizon() {
        let mut q = EventQueue::new();
        q.schedule(5, 1);
        q.schedule(15, 2);
        assert_eq!(q.pop_due(10), Some((5, 1)));
        assert_eq!(q.pop_due(10), None);
        assert_eq!(q.next_deadline(), Some(15));
        assert_eq!(q.peek(), Some((15, 1)));
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_panics() {
        let mut q = EventQueue::new();
        q.schedule(10, ());
        q.pop();
        q.schedule(5, ());
    }
}
