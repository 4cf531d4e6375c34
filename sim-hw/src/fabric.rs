//! The fabric: links, an optional switch, and the loop that steps every HCA
//! and the fabric itself in one global (time, source) order.
//!
//! Topologies ([`Topology`]): two HCAs back to back on one link (the
//! default, the setup of the calibration), N HCAs each on its own link
//! to one switch port, or a two-level tree: leaf switches with their HCAs,
//! each leaf cabled to one spine switch (up/down routing, so credit loops
//! cannot deadlock).
//!
//! A [`Link`] is full duplex, with its own rate (lanes x baud, the
//! profile's line code) and propagation delay. Each direction has a
//! transmitter that serializes packets one after another over their wire
//! bytes; the receiving end has the packet when its last bit has arrived.
//! Loss is deterministic: a seeded generator drops each packet with a given
//! probability, and a filter can drop chosen packets.
//!
//! The switch is cut-through: a packet's head reaches the input port one
//! propagation delay after it started, and `switch_hop_latency` later the
//! switch routes it by DLID (a linear forwarding table, DLID -> port) to
//! the output port, which sends it as soon as it is idle (each output port
//! is a FIFO, in the order the packets were routed). Link-level credit flow
//! control (IBTA Vol. 1 sec. 7.9): an HCA sends to a switch port only
//! while the port's input buffer has room for the whole packet, in 64-byte
//! credits; the packet holds its credits until its tail has left the
//! switch, and they come back to the sender one propagation delay later.
//! A congested output port thus fills the input buffers that feed it and
//! stalls their senders; nothing is ever dropped for lack of buffer.
//! Receivers at HCAs never run out of credits (their receive engine takes
//! a packet in 4.65 ns, faster than any link delivers one), so the links
//! into HCAs and the back-to-back link carry no credits. Between two
//! switches both directions carry credits: a packet routed to a switch
//! whose input buffer is full waits at its output port, still holding its
//! own input credits, which go back upstream only once it has left.
//!
//! Faults: [`Fabric::port_down`] takes an HCA port's link down. Packets
//! being sent on it, queued for it, or arriving through it are lost; the
//! HCA raises PORT_ERR (and, back to back, its peer too: the cable is
//! shared). [`Fabric::port_up`] brings it back with full credits and raises
//! PORT_ACTIVE. The RC retry machinery then recovers or exhausts its
//! retries.
//!
//! Not modelled: virtual lanes and their arbitration, flow-control packets'
//! own bytes on the wire, the subnet manager (the forwarding tables are
//! filled in when the fabric is built), topologies other than these three
//! (several paths between two HCAs, adaptive routing), faults on the links
//! between switches, and the switch's head-of-queue lifetime.
//!
//! Stepping: [`Fabric::step`] runs the earliest event of all HCAs and of the
//! fabric (ties: the fabric's first, then HCAs by index, then each queue's
//! sequence number). Each HCA's next deadline is kept in a heap with lazy
//! deletion, so picking the next event costs O(log n) in the number of
//! HCAs. An HCA changed by a driver call is reached through
//! [`Fabric::hca_mut`], which marks its deadline for refreshing. Every
//! packet arrives strictly later than it left, so this order is causal.
//!
//! Key types: [`Fabric`], [`Link`], [`Topology`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::engine::{EventQueue, Ps};
use crate::hca::Hca;
use crate::host::Host;
use crate::packet::Packet;
use crate::profile::Profile;

/// A filter choosing packets to drop (deterministic tests of loss).
pub type DropFilter = Box<dyn FnMut(&Packet) -> bool>;

/// How the HCAs are connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Two HCAs on one link.
    BackToBack,
    /// `hcas` HCAs, HCA i on switch port i (link i).
    Switch { hcas: usize },
    /// `leaves` leaf switches with `per_leaf` HCAs each (HCA i on leaf
    /// i / per_leaf, by link i), leaf k cabled to the spine by link
    /// `leaves * per_leaf + k`.
    Tree { leaves: usize, per_leaf: usize },
}

/// Why a fault could not be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortError {
    /// No such HCA, or a port other than 1 (each HCA has one port).
    NoSuchPort,
}

/// One direction of a link: its transmitter.
#[derive(Default)]
struct Tx {
    /// Busy serializing until then.
    busy: Ps,
    /// Credits (in credit units) the receiver has room for; None when the
    /// receiver never back-pressures (an HCA).
    credits: Option<u64>,
    /// Packets waiting for credits, in order: (ready time, packet, the
    /// input credits it holds at the switch it leaves).
    waiting: VecDeque<(Ps, Packet, Option<Held>)>,
}

/// Input-buffer credits a packet holds at a switch until its tail leaves:
/// they go back to the transmitter of `link` in direction `dir`.
#[derive(Clone, Copy, Debug)]
struct Held {
    link: usize,
    dir: usize,
    epoch: u32,
    credits: u64,
}

/// A full-duplex link between two ports.
pub struct Link {
    /// Lanes (4x).
    pub lanes: u64,
    /// Signalling rate per lane, in baud.
    pub baud: u64,
    /// Propagation delay.
    pub propagation: Ps,
    tx: [Tx; 2],
    up: bool,
    epoch: u32,
    /// Probability of losing a packet, in parts per million.
    pub loss_ppm: u32,
    rng: u64,
    /// Drops every packet for which it returns true.
    pub drop_filter: Option<DropFilter>,
    /// Packets lost so far (to loss, a filter, or the link being down).
    pub dropped: u64,
    /// Packets that had to wait for credits before this link took them.
    pub credit_stalls: u64,
}

impl Link {
    /// A lossless link at the profile's rate and propagation delay, whose
    /// loss generator is seeded with `seed`.
    pub fn new(p: &Profile, seed: u64) -> Link {
        Link {
            lanes: p.link_lanes.value,
            baud: p.link_baud.value,
            propagation: p.propagation.value,
            tx: Default::default(),
            up: true,
            epoch: 0,
            loss_ppm: 0,
            rng: seed,
            drop_filter: None,
            dropped: 0,
            credit_stalls: 0,
        }
    }

    /// Whether the link is up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// splitmix64.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Time to serialize `bytes` at this link's rate (the profile's line code).
    pub fn time(&self, p: &Profile, bytes: usize) -> Ps {
        if self.lanes == p.link_lanes.value && self.baud == p.link_baud.value {
            return p.link_time(bytes);
        }
        let num = bytes as u128 * 8 * 1_000_000_000_000 * p.link_code_total_bits.value as u128;
        let den = self.lanes as u128 * self.baud as u128 * p.link_code_data_bits.value as u128;
        num.div_ceil(den) as Ps
    }

    /// Serializes `pkt` in direction `dir`, not before `t`: (start, end),
    /// and whether it is lost.
    fn send(&mut self, p: &Profile, dir: usize, t: Ps, pkt: &Packet) -> (Ps, Ps, bool) {
        let start = t.max(self.tx[dir].busy);
        let end = start + self.time(p, pkt.wire_bytes());
        self.tx[dir].busy = end;
        let filtered = self.drop_filter.as_mut().is_some_and(|f| f(pkt));
        let lost = self.loss_ppm > 0 && self.next_random() % 1_000_000 < self.loss_ppm as u64;
        if filtered || lost {
            self.dropped += 1;
        }
        (start, end, filtered || lost)
    }
}

/// One end of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Hca(usize),
    /// A port of this switch.
    Switch(usize),
}

/// Fabric events (the HCAs have their own queues).
enum FabricEvent {
    /// A packet's head reached `switch` through `link` (sent in direction
    /// `dir`) one hop latency ago: route it. It holds `credits` of that
    /// input port's buffer.
    Forward { switch: usize, link: usize, dir: usize, epoch: u32, pkt: Packet, tail: Ps, credits: u64 },
    /// Credits come back to the transmitter of `link` in direction `dir`.
    Credit { link: usize, dir: usize, epoch: u32, credits: u64 },
}

/// Up to this many HCAs, the next one is found by a scan.
const SCAN_MAX: usize = 4;

/// Index of the fabric's own queue in the (time, source) order: first.
const FABRIC: usize = usize::MAX;

/// HCAs, the links between them, and the switch.
pub struct Fabric {
    hcas: Vec<Hca>,
    /// Back to back: one link. Switched: link i joins HCA i to switch port
    /// i. Tree: link i joins HCA i to its leaf, then one uplink per leaf.
    pub links: Vec<Link>,
    /// The two ends of each link; direction d sends from `ends[l][d]`.
    ends: Vec<[End; 2]>,
    topology: Topology,
    /// Each switch's linear forwarding table: DLID -> (output link,
    /// direction).
    lft: Vec<Vec<Option<(usize, usize)>>>,
    profile: Profile,
    q: EventQueue<FabricEvent>,
    /// Few HCAs: find the next one by a scan (cheaper than the heap below).
    scan: bool,
    /// (deadline, HCA) entries; an entry is live while it is its HCA's next
    /// deadline, and every HCA's next deadline has an entry.
    ready: BinaryHeap<Reverse<(Ps, usize)>>,
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    outbox: Vec<(Ps, Packet)>,
    now: Ps,
}

impl Fabric {
    /// Two HCAs (LIDs 0 and 1) connected back to back.
    pub fn pair(profile: Profile, seed: u64) -> Fabric {
        Fabric::new(profile, Topology::BackToBack, seed)
    }

    /// `n` HCAs (LID i on switch port i) behind one switch.
    pub fn switched(profile: Profile, n: usize, seed: u64) -> Fabric {
        Fabric::new(profile, Topology::Switch { hcas: n }, seed)
    }

    /// A two-level tree: `leaves` leaf switches with `per_leaf` HCAs each
    /// (LID i on leaf i / per_leaf), every leaf cabled to one spine.
    pub fn tree(profile: Profile, leaves: usize, per_leaf: usize, seed: u64) -> Fabric {
        Fabric::new(profile, Topology::Tree { leaves, per_leaf }, seed)
    }

    /// The HCAs of `topology`; link i's loss generator is seeded with
    /// `seed + i`.
    pub fn new(profile: Profile, topology: Topology, seed: u64) -> Fabric {
        let (ends, lft) = wiring(topology);
        let n = match topology {
            Topology::BackToBack => 2,
            Topology::Switch { hcas } => hcas,
            Topology::Tree { leaves, per_leaf } => leaves * per_leaf,
        };
        let hcas = (0..n).map(|i| Hca::new(i as u16, profile.clone())).collect();
        let mut links: Vec<Link> = (0..ends.len()).map(|i| Link::new(&profile, seed.wrapping_add(i as u64))).collect();
        let credits = profile.switch_port_buffer.value / profile.link_credit_bytes.value;
        for (l, e) in links.iter_mut().zip(&ends) {
            for dir in 0..2 {
                if let End::Switch(_) = e[1 - dir] {
                    l.tx[dir].credits = Some(credits);
                }
            }
        }
        Fabric {
            hcas,
            links,
            ends,
            topology,
            lft,
            profile,
            q: EventQueue::new(),
            scan: n <= SCAN_MAX,
            ready: BinaryHeap::new(),
            dirty: Vec::new(),
            is_dirty: vec![false; n],
            outbox: Vec::new(),
            now: 0,
        }
    }

    /// The topology.
    pub fn topology(&self) -> Topology {
        self.topology
    }
    /// Number of HCAs.
    pub fn len(&self) -> usize {
        self.hcas.len()
    }
    /// Whether there is no HCA.
    pub fn is_empty(&self) -> bool {
        self.hcas.is_empty()
    }
    /// HCA `i`.
    pub fn hca(&self, i: usize) -> &Hca {
        &self.hcas[i]
    }
    /// HCA `i`, for a driver call (its next deadline is refreshed before
    /// the next step).
    pub fn hca_mut(&mut self, i: usize) -> &mut Hca {
        if !self.scan && !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(i);
        }
        &mut self.hcas[i]
    }
    /// Takes the oldest CQE of HCA `i`'s CQ `cq` (polling schedules
    /// nothing, so unlike [`hca_mut`](Self::hca_mut) this leaves the
    /// schedule alone).
    pub fn poll_cq_one(&mut self, i: usize, cq: u32) -> Option<crate::cq::Cqe> {
        self.hcas[i].poll_cq_one(cq)
    }
    /// Every HCA.
    pub fn hcas(&self) -> &[Hca] {
        &self.hcas
    }
    /// The time of the last event run (or of the last poll's horizon).
    pub fn now(&self) -> Ps {
        self.now
    }

    /// The link HCA `i`'s port is on, and the direction it sends in.
    fn hca_link(&self, i: usize) -> (usize, usize) {
        match self.topology {
            Topology::BackToBack => (0, i),
            Topology::Switch { .. } | Topology::Tree { .. } => (i, 0),
        }
    }

    /// Who receives what `link` carries in direction `dir`.
    fn far_end(&self, link: usize, dir: usize) -> End {
        self.ends[link][1 - dir]
    }

    fn note(&mut self, i: usize) {
        self.push_ready(i);
    }

    fn push_ready(&mut self, i: usize) {
        if self.scan {
            return;
        }
        if let Some(t) = self.hcas[i].next_deadline() {
            self.ready.push(Reverse((t, i)));
        }
    }

    /// The next event of the fabric: (time, source), the source being an
    /// HCA index or `usize::MAX` for the fabric's own (switch, credits).
    pub fn next_event(&mut self) -> Option<(Ps, usize)> {
        while let Some(i) = self.dirty.pop() {
            self.is_dirty[i] = false;
            self.note(i);
        }
        let hca = if self.scan {
            self.hcas.iter().enumerate().filter_map(|(i, h)| h.next_deadline().map(|t| (t, i))).min()
        } else {
            self.next_hca()
        };
        match (self.q.next_deadline(), hca) {
            (Some(f), Some((t, i))) => Some(if f <= t { (f, FABRIC) } else { (t, i) }),
            (Some(f), None) => Some((f, FABRIC)),
            (None, h) => h,
        }
    }

    /// The HCA with the earliest deadline, from the heap.
    fn next_hca(&mut self) -> Option<(Ps, usize)> {
        loop {
            let &Reverse((t, i)) = self.ready.peek()?;
            if self.hcas[i].next_deadline() == Some(t) {
                return Some((t, i));
            }
            self.ready.pop();
        }
    }

    /// The time of the next event.
    pub fn next_deadline(&mut self) -> Option<Ps> {
        self.next_event().map(|(t, _)| t)
    }

    /// Runs exactly one event (the earliest) with `hosts[i]` lent to HCA `i`.
    pub fn step<H: Host>(&mut self, hosts: &mut [H]) -> Option<(Ps, usize)> {
        let (t, i) = self.next_event()?;
        self.now = self.now.max(t);
        if i == FABRIC {
            let (t, ev) = self.q.pop().unwrap();
            self.dispatch(t, ev);
        } else {
            self.hcas[i].step(&mut hosts[i]);
            self.route(i);
            self.note(i);
        }
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
        self.q.advance_to(now);
        self.now = self.now.max(now);
    }

    /// Carries the packets HCA `from` sent.
    pub fn route(&mut self, from: usize) {
        let mut out = std::mem::take(&mut self.outbox);
        out.extend(self.hcas[from].take_outbox());
        let (link, dir) = self.hca_link(from);
        for (t, pkt) in out.drain(..) {
            self.transmit(link, dir, t, pkt);
        }
        self.outbox = out;
    }

    fn credits_of(&self, pkt: &Packet) -> u64 {
        pkt.wire_bytes().div_ceil(self.profile.link_credit_bytes.value as usize) as u64
    }

    /// Queues `pkt`, ready at `t`, on `link`'s transmitter `dir`.
    fn transmit(&mut self, link: usize, dir: usize, t: Ps, pkt: Packet) {
        let need = self.credits_of(&pkt);
        let l = &mut self.links[link];
        if !l.up {
            l.dropped += 1;
            return;
        }
        let tx = &mut l.tx[dir];
        let blocked = !tx.waiting.is_empty() || tx.credits.is_some_and(|c| c < need);
        if blocked {
            tx.waiting.push_back((t, pkt, None));
            l.credit_stalls += 1;
            return;
        }
        if let Some(c) = tx.credits.as_mut() {
            *c -= need;
        }
        self.launch(link, dir, t, pkt, need, None);
    }

    /// Puts `pkt` on the wire (its credits already taken) and hands it to
    /// the far end; the input credits it `held` at the switch it leaves go
    /// back once its tail has left.
    fn launch(&mut self, link: usize, dir: usize, t: Ps, pkt: Packet, credits: u64, held: Option<Held>) {
        let p = &self.profile;
        let l = &mut self.links[link];
        let (start, end, lost) = l.send(p, dir, t, &pkt);
        let (prop, epoch) = (l.propagation, l.epoch);
        if let Some(h) = held {
            let back = self.links[h.link].propagation;
            let ev = FabricEvent::Credit { link: h.link, dir: h.dir, epoch: h.epoch, credits: h.credits };
            self.q.schedule(end + back, ev);
        }
        let far = self.far_end(link, dir);
        match far {
            End::Switch(_) if lost => {
                // The receiver discards it; its credits come back.
                self.q.schedule(end + prop, FabricEvent::Credit { link, dir, epoch, credits });
            }
            End::Switch(switch) => {
                let at = start + prop + self.profile.switch_hop_latency.value;
                let ev = FabricEvent::Forward { switch, link, dir, epoch, pkt, tail: end + prop, credits };
                self.q.schedule(at, ev);
            }
            End::Hca(_) if lost => {}
            End::Hca(j) => {
                self.hcas[j].deliver(end + prop, pkt);
                self.push_ready(j);
            }
        }
    }

    fn dispatch(&mut self, now: Ps, ev: FabricEvent) {
        match ev {
            FabricEvent::Forward { switch, link, dir, epoch, pkt, tail, credits } => {
                if self.links[link].epoch != epoch {
                    return; // the input link died under the packet
                }
                let out = self.lft[switch].get(pkt.dlid as usize).copied().flatten();
                let release = match out {
                    Some((o, odir)) if self.links[o].up => {
                        // Cut-through: the output cannot finish before the
                        // input has delivered the tail.
                        let l = &self.links[o];
                        let t = now.max(tail.saturating_sub(l.time(&self.profile, pkt.wire_bytes())));
                        if let End::Switch(_) = self.far_end(o, odir) {
                            // To the next switch, under its credits; this
                            // input's credits go back when the packet leaves.
                            let held = Held { link, dir, epoch, credits };
                            return self.forward_to_switch(o, odir, t, pkt, held);
                        }
                        let (_, end, lost) = self.links[o].send(&self.profile, odir, t, &pkt);
                        if !lost {
                            let prop = self.links[o].propagation;
                            let End::Hca(j) = self.far_end(o, odir) else { unreachable!() };
                            self.hcas[j].deliver(end + prop, pkt);
                            self.push_ready(j);
                        }
                        end
                    }
                    _ => {
                        // No route, or the output port is down: discarded.
                        self.links[out.map_or(link, |(o, _)| o)].dropped += 1;
                        now
                    }
                };
                let prop = self.links[link].propagation;
                self.q.schedule(release + prop, FabricEvent::Credit { link, dir, epoch, credits });
            }
            FabricEvent::Credit { link, dir, epoch, credits } => {
                let l = &mut self.links[link];
                if l.epoch != epoch {
                    return; // the link was reset since: credits re-advertised
                }
                let tx = &mut l.tx[dir];
                if let Some(c) = tx.credits.as_mut() {
                    *c += credits;
                }
                self.drain_waiting(link, dir, now);
            }
        }
    }

    /// A switch sends `pkt` on `link`/`dir` to another switch, ready at
    /// `t`, when that switch's input has credits for it.
    fn forward_to_switch(&mut self, link: usize, dir: usize, t: Ps, pkt: Packet, held: Held) {
        let need = self.credits_of(&pkt);
        let l = &mut self.links[link];
        let tx = &mut l.tx[dir];
        if !tx.waiting.is_empty() || tx.credits.is_some_and(|c| c < need) {
            tx.waiting.push_back((t, pkt, Some(held)));
            l.credit_stalls += 1;
            return;
        }
        if let Some(c) = tx.credits.as_mut() {
            *c -= need;
        }
        self.launch(link, dir, t, pkt, need, Some(held));
    }

    /// Sends the packets waiting for credits on `link`/`dir` while they fit.
    fn drain_waiting(&mut self, link: usize, dir: usize, now: Ps) {
        loop {
            let tx = &mut self.links[link].tx[dir];
            let Some((_, pkt, _)) = tx.waiting.front() else { return };
            let need = pkt.wire_bytes().div_ceil(self.profile.link_credit_bytes.value as usize) as u64;
            match tx.credits.as_mut() {
                Some(c) if *c < need => return,
                Some(c) => *c -= need,
                None => {}
            }
            let (t, pkt, held) = tx.waiting.pop_front().unwrap();
            self.launch(link, dir, t.max(now), pkt, need, held);
        }
    }

    /// Takes HCA `hca`'s port `port` (1) down now: its link carries nothing
    /// until [`port_up`](Self::port_up); packets on it or queued for it are
    /// lost; PORT_ERR is raised on the HCA (back to back, on both HCAs).
    pub fn port_down(&mut self, hca: usize, port: u8) -> Result<(), PortError> {
        self.set_port(hca, port, false)
    }

    /// Brings HCA `hca`'s port `port` (1) back up now, with full credits;
    /// PORT_ACTIVE is raised.
    pub fn port_up(&mut self, hca: usize, port: u8) -> Result<(), PortError> {
        self.set_port(hca, port, true)
    }

    fn set_port(&mut self, hca: usize, port: u8, up: bool) -> Result<(), PortError> {
        if port != 1 || hca >= self.hcas.len() {
            return Err(PortError::NoSuchPort);
        }
        let now = self.now;
        let (link, _) = self.hca_link(hca);
        let credits = self.profile.switch_port_buffer.value / self.profile.link_credit_bytes.value;
        let l = &mut self.links[link];
        if l.up != up {
            l.up = up;
            if !up {
                l.epoch += 1;
                for tx in &mut l.tx {
                    l.dropped += tx.waiting.len() as u64;
                    tx.waiting.clear();
                }
            } else {
                for tx in &mut l.tx {
                    tx.busy = tx.busy.max(now);
                    if tx.credits.is_some() {
                        tx.credits = Some(credits);
                    }
                }
            }
        }
        let ends: Vec<usize> = match self.topology {
            Topology::BackToBack => vec![0, 1],
            Topology::Switch { .. } | Topology::Tree { .. } => vec![hca],
        };
        for i in ends {
            self.hca_mut(i).set_port_state(now, up);
        }
        Ok(())
    }

    /// Events run by all HCAs and by the fabric.
    pub fn events_processed(&self) -> u64 {
        self.hcas.iter().map(Hca::events_processed).sum::<u64>() + self.q.processed()
    }
}

/// The ends of every link and each switch's forwarding table.
#[allow(clippy::type_complexity)]
fn wiring(topology: Topology) -> (Vec<[End; 2]>, Vec<Vec<Option<(usize, usize)>>>) {
    match topology {
        Topology::BackToBack => (vec![[End::Hca(0), End::Hca(1)]], Vec::new()),
        Topology::Switch { hcas } => {
            let ends = (0..hcas).map(|i| [End::Hca(i), End::Switch(0)]).collect();
            (ends, vec![(0..hcas).map(|i| Some((i, 1))).collect()])
        }
        Topology::Tree { leaves, per_leaf } => {
            // Switches 0..leaves are the leaves, switch `leaves` the spine.
            let n = leaves * per_leaf;
            let mut ends: Vec<[End; 2]> = (0..n).map(|i| [End::Hca(i), End::Switch(i / per_leaf)]).collect();
            ends.extend((0..leaves).map(|k| [End::Switch(k), End::Switch(leaves)]));
            let mut lft: Vec<Vec<Option<(usize, usize)>>> = (0..leaves)
                .map(|k| (0..n).map(|j| Some(if j / per_leaf == k { (j, 1) } else { (n + k, 0) })).collect())
                .collect();
            lft.push((0..n).map(|j| Some((n + j / per_leaf, 1))).collect());
            (ends, lft)
        }
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
