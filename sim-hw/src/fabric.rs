//! The fabric: links between HCA ports, and the loop that steps several HCAs
//! in one global (time, HCA, sequence) order.
//!
//! A [`Link`] is full duplex; each direction serializes packets one after
//! another at the link rate of the profile (EDR: 4 lanes x 25.78125 Gbaud,
//! 64b/66b = 100 Gb/s) over their wire bytes, then adds the propagation
//! delay. A packet is handed to the receiving HCA when its last bit arrives
//! (store and forward). Loss is deterministic: a seeded generator drops each
//! packet with a given probability, and a filter can drop chosen packets.
//! Credit-based flow control, virtual lanes and switches are not modelled
//! (the packet's DLID is what a switch would route on).
//!
//! [`Fabric::step`] runs the earliest event of all HCAs (ties broken by HCA
//! index, then by each HCA's sequence numbers) and carries the packets it
//! sent. Every packet arrives strictly later than it left, so stepping the
//! HCAs in this order is causal.
//!
//! Key types: [`Fabric`], [`Link`].

use crate::engine::Ps;
use crate::hca::Hca;
use crate::host::Host;
use crate::packet::Packet;
use crate::profile::Profile;

/// A filter choosing packets to drop (deterministic tests of loss).
pub type DropFilter = Box<dyn FnMut(&Packet) -> bool>;

/// A point-to-point link between two ports.
pub struct Link {
    busy: [Ps; 2],
    /// Probability of losing a packet, in parts per million.
    pub loss_ppm: u32,
    rng: u64,
    /// Drops every packet for which it returns true.
    pub drop_filter: Option<DropFilter>,
    /// Packets lost so far.
    pub dropped: u64,
}

impl Link {
    /// A lossless link whose loss generator is seeded with `seed`.
    pub fn new(seed: u64) -> Link {
        Link { busy: [0; 2], loss_ppm: 0, rng: seed, drop_filter: None, dropped: 0 }
    }

    /// splitmix64.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Carries `pkt`, leaving its sender at `t` in direction `dir`: when it
    /// has fully arrived, or None if it is lost.
    pub fn carry(&mut self, p: &Profile, dir: usize, t: Ps, pkt: &Packet) -> Option<Ps> {
        let start = t.max(self.busy[dir]);
        let end = start + p.link_time(pkt.wire_bytes());
        self.busy[dir] = end;
        let filtered = self.drop_filter.as_mut().is_some_and(|f| f(pkt));
        let lost = self.loss_ppm > 0 && self.next_random() % 1_000_000 < self.loss_ppm as u64;
        if filtered || lost {
            self.dropped += 1;
            return None;
        }
        Some(end + p.propagation.value)
    }
}

/// HCAs and the links between them (for now: two HCAs back to back).
pub struct Fabric {
    pub hcas: Vec<Hca>,
    pub link: Link,
    profile: Profile,
}

impl Fabric {
    /// Two HCAs (LIDs 0 and 1) connected back to back.
    pub fn pair(profile: Profile, seed: u64) -> Fabric {
        Fabric {
            hcas: vec![Hca::new(0, profile.clone()), Hca::new(1, profile.clone())],
            link: Link::new(seed),
            profile,
        }
    }

    /// The next event of the fabric: (time, HCA index).
    pub fn next_event(&self) -> Option<(Ps, usize)> {
        self.hcas.iter().enumerate().filter_map(|(i, h)| h.next_deadline().map(|t| (t, i))).min()
    }

    /// The time of the next event.
    pub fn next_deadline(&self) -> Option<Ps> {
        self.next_event().map(|(t, _)| t)
    }

    /// Runs exactly one event (the earliest) with `hosts[i]` lent to HCA `i`.
    pub fn step<H: Host>(&mut self, hosts: &mut [H]) -> Option<(Ps, usize)> {
        let (t, i) = self.next_event()?;
        self.hcas[i].step(&mut hosts[i]);
        self.route(i);
        Some((t, i))
    }

    /// Runs every event due at or before `now`.
    pub fn poll<H: Host>(&mut self, now: Ps, hosts: &mut [H]) {
        while self.next_deadline().is_some_and(|t| t <= now) {
            self.step(hosts);
        }
        for h in &mut self.hcas {
            h.poll(now, &mut NoHost);
        }
    }

    /// Carries the packets HCA `from` sent.
    pub fn route(&mut self, from: usize) {
        let (a, b) = self.hcas.split_at_mut(1);
        let (src, dst) = if from == 0 { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };
        for (t, pkt) in src.take_outbox() {
            debug_assert_eq!(pkt.dlid, dst.lid());
            if let Some(at) = self.link.carry(&self.profile, from, t, &pkt) {
                dst.deliver(at, pkt);
            }
        }
    }

    /// Events run by all HCAs.
    pub fn events_processed(&self) -> u64 {
        self.hcas.iter().map(Hca::events_processed).sum()
    }
}

/// A host with no memory and no interrupt line: `poll` uses it only to move
/// clocks forward when no event is due.
struct NoHost;
impl crate::host::HostMemory for NoHost {
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), crate::host::DmaError> {
        Err(crate::host::DmaError { addr, len: buf.len() })
    }
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> Result<(), crate::host::DmaError> {
        Err(crate::host::DmaError { addr, len: data.len() })
    }
}
impl crate::host::InterruptSink for NoHost {
    fn interrupt(&mut self, _: crate::host::Interrupt) {}
}
