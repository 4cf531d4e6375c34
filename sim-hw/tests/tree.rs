//! A two-level tree of switches: leaf switches with their HCAs under one
//! spine. Hop latency adds up per switch; credits hold packets at a
//! switch's output when the next switch's input is full, and nothing is
//! lost.

use sim_hw::cq::WcStatus;
use sim_hw::harness::{Cluster, Endpoint, MEM_BASE};
use sim_hw::mr::Access;
use sim_hw::qp::QpAttr;
use sim_hw::{Profile, Ps};

const MEM: usize = 1 << 20;

fn tree(leaves: usize, per_leaf: usize) -> Cluster {
    let mut c = Cluster::tree(Profile::cx4_edr(), leaves, per_leaf, MEM, 3);
    for h in 0..leaves * per_leaf {
        let pattern: Vec<u8> = (0..MEM).map(|i| (i * 7 + h * 31 + 1) as u8).collect();
        c.hosts[h].mem.store(MEM_BASE, &pattern);
    }
    c
}

fn conn(c: &mut Cluster, i: usize, j: usize) -> (Endpoint, Endpoint) {
    let mut e = Vec::new();
    for h in [i, j] {
        let hca = c.fabric.hca_mut(h);
        let (scq, rcq) = (hca.create_cq(4096), hca.create_cq(4096));
        let mr = hca.reg_mr(1, MEM_BASE, MEM as u64, MEM_BASE, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        e.push(c.endpoint(h, scq, rcq, MEM_BASE, MEM as u64, mr));
    }
    c.connect(&e[0], &e[1], QpAttr::default());
    (e[0], e[1])
}

fn one_way_32b(c: &mut Cluster, a: &Endpoint, b: &Endpoint) -> Ps {
    c.post_recv(c.now(), b, 0, 64);
    c.run_to_idle();
    let t0 = c.now();
    c.post_send(t0, a, 0, 32, true);
    assert_eq!(c.wait_cqe(b.hca, b.recv_cq).unwrap().status, WcStatus::Success);
    c.now() - t0
}

#[test]
fn crossing_the_spine_adds_two_switch_hops() {
    let p = Profile::cx4_edr();
    let mut c = tree(2, 2);
    let (a, b) = conn(&mut c, 0, 1);
    let same_leaf = one_way_32b(&mut c, &a, &b);
    let (a, b) = conn(&mut c, 0, 3);
    let across = one_way_32b(&mut c, &a, &b);
    // Cut-through: each further switch adds its hop latency and one more link.
    assert_eq!(across - same_leaf, 2 * (p.switch_hop_latency.value + p.propagation.value));
    // Under one leaf it is the single switch's latency.
    let mut s = Cluster::switched(p, 2, MEM, 3);
    let h: Vec<_> = (0..2)
        .map(|i| {
            let hca = s.fabric.hca_mut(i);
            let (scq, rcq) = (hca.create_cq(16), hca.create_cq(16));
            let mr = hca.reg_mr(1, MEM_BASE, MEM as u64, MEM_BASE, Access::LOCAL_WRITE);
            s.endpoint(i, scq, rcq, MEM_BASE, MEM as u64, mr)
        })
        .collect();
    s.connect(&h[0], &h[1], QpAttr::default());
    assert_eq!(one_way_32b(&mut s, &h[0], &h[1]), same_leaf);
}

/// Four HCAs under two other leaves write to HCA 0 at once: the spine's
/// output to HCA 0's leaf is oversubscribed two to one, so the spine's
/// input buffers fill and the leaves' uplinks wait for credits, holding
/// their own input credits; every byte lands, nothing is retransmitted,
/// and HCA 0's link runs near its rate.
fn incast() -> (Ps, u64) {
    let mut c = tree(3, 2);
    let senders = [2, 3, 4, 5];
    let per = 4 * 65_536;
    let mut eps = Vec::new();
    for (k, &s) in senders.iter().enumerate() {
        let (a, b) = conn(&mut c, s, 0);
        for m in 0..4 {
            let off = (k * per + m * 65_536) as u64;
            c.post_write(0, &a, m as u64, 65_536, b.buf + off, b.mr.rkey, true);
        }
        eps.push((a, b));
    }
    for (a, _) in &eps {
        for _ in 0..4 {
            assert_eq!(c.wait_cqe(a.hca, a.send_cq).unwrap().status, WcStatus::Success);
        }
    }
    let t = c.now();
    c.run_to_idle();
    for (k, (a, b)) in eps.iter().enumerate() {
        for m in 0..4 {
            let off = (k * per + m * 65_536) as u64;
            assert_eq!(c.hosts[0].mem.slice(b.buf + off, 65_536), c.hosts[a.hca].mem.slice(a.buf, 65_536));
        }
    }
    let f = &c.fabric;
    assert_eq!(f.links.iter().map(|l| l.dropped).sum::<u64>(), 0);
    assert!(f.hcas().iter().all(|h| h.stats().retransmitted_packets == 0 && h.stats().timeouts == 0));
    // Links 6, 7, 8 are the leaves' uplinks; leaves 1 and 2 had to wait.
    let uplink_stalls = f.links[7].credit_stalls + f.links[8].credit_stalls;
    assert!(uplink_stalls > 0, "the spine held the leaves back");
    let gbps = (senders.len() * per * 8) as f64 / (t as f64 * 1e-12) / 1e9;
    assert!(gbps > 90.0 && gbps < 100.0, "{gbps:.1} Gb/s into HCA 0");
    (t, uplink_stalls)
}

#[test]
fn an_incast_across_the_spine_is_held_by_credits_and_loses_nothing() {
    let first = incast();
    assert_eq!(incast(), first, "deterministic");
}
