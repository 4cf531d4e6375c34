//! The fabric: the switch's hop latency and routing by DLID, link-level
//! credit back-pressure, port faults with their async events, and an
//! all-to-all at small scale.

use sim_hw::cq::WcStatus;
use sim_hw::fabric::PortError;
use sim_hw::harness::{Cluster, Endpoint, HcaPair, MEM_BASE};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::mr::Access;
use sim_hw::perftest::all_to_all;
use sim_hw::qp::{QpAttr, QpState};
use sim_hw::{Profile, Ps, US};

const MEM: usize = 4 << 20;

fn cluster(p: Profile, n: usize) -> Cluster {
    let mut c = Cluster::switched(p, n, MEM, 3);
    for h in 0..n {
        let pattern: Vec<u8> = (0..MEM).map(|i| (i * 13 + h * 101 + 5) as u8).collect();
        c.hosts[h].mem.store(MEM_BASE, &pattern);
    }
    c
}

/// A QP on HCA `i` and one on HCA `j`, connected, each with its own CQs and
/// the whole host memory registered.
fn conn(c: &mut Cluster, i: usize, j: usize, attr: QpAttr) -> (Endpoint, Endpoint) {
    let mut e = Vec::new();
    for h in [i, j] {
        let hca = c.fabric.hca_mut(h);
        let (scq, rcq) = (hca.create_cq(4096), hca.create_cq(4096));
        let mr = hca.reg_mr(1, MEM_BASE, MEM as u64, MEM_BASE, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        e.push(c.endpoint(h, scq, rcq, MEM_BASE, MEM as u64, mr));
    }
    c.connect(&e[0], &e[1], attr);
    (e[0], e[1])
}

fn one_way_32b(c: &mut Cluster, a: &Endpoint, b: &Endpoint) -> Ps {
    c.post_recv(0, b, 0, 64);
    c.run_to_idle();
    let t0 = c.now();
    c.post_send(t0, a, 0, 32, true);
    assert_eq!(c.wait_cqe(b.hca, b.recv_cq).unwrap().status, WcStatus::Success);
    c.now() - t0
}

#[test]
fn a_switch_adds_its_hop_latency_and_one_more_propagation_delay() {
    let p = Profile::cx4_edr();
    let mut pair = HcaPair::new(p.clone(), MEM, 1);
    let (a, b) = pair.connect_rc(QpAttr::default(), MEM as u64, Access::LOCAL_WRITE);
    let direct = one_way_32b(&mut pair, &a, &b);
    let mut c = cluster(p.clone(), 2);
    let (a, b) = conn(&mut c, 0, 1, QpAttr::default());
    let switched = one_way_32b(&mut c, &a, &b);
    // Cut-through: the packet's serialization overlaps on the two links.
    assert_eq!(switched - direct, p.switch_hop_latency.value + p.propagation.value);
    assert_eq!(switched - direct, 92_500);
}

#[test]
fn the_switch_routes_by_dlid() {
    let mut c = cluster(Profile::cx4_edr(), 4);
    let eps: Vec<_> = (1..4).map(|j| conn(&mut c, 0, j, QpAttr::default())).collect();
    for (k, (a, b)) in eps.iter().enumerate() {
        c.post_write(0, a, k as u64, 10_000, b.buf + 4096 * k as u64, b.mr.rkey, true);
    }
    c.run_to_idle();
    let cqes = c.fabric.hca_mut(0).poll_cq(eps[0].0.send_cq, 4);
    assert_eq!(cqes.len(), 1);
    for (k, (a, b)) in eps.iter().enumerate() {
        let s = c.fabric.hca_mut(0).poll_cq(a.send_cq, 4);
        assert!(s.iter().all(|x| x.status == WcStatus::Success));
        assert_eq!(c.hosts[b.hca].mem.slice(b.buf + 4096 * k as u64, 10_000), c.hosts[0].mem.slice(a.buf, 10_000));
        // Three packets of one WRITE at MTU 4096, each to its own HCA.
        assert_eq!(c.fabric.hca(b.hca).stats().packets_received, 3, "HCA {}", b.hca);
    }
    assert_eq!(c.fabric.hca(0).stats().packets_received, 3, "three ACKs");
}

/// Four HCAs write to a fifth at once: its switch port is the bottleneck,
/// the input buffers fill, credits stall the senders, and nothing is lost,
/// whatever the buffer size (here down to one MTU-4096 packet).
#[test]
fn incast_is_back_pressured_by_credits_and_never_drops() {
    for buffer in [65_536, 4_160] {
        let mut p = Profile::cx4_edr();
        p.switch_port_buffer.value = buffer;
        let mut c = cluster(p, 5);
        let per_sender = 512 * 1024;
        let eps: Vec<_> = (1..5).map(|i| conn(&mut c, i, 0, QpAttr::default())).collect();
        for (k, (a, b)) in eps.iter().enumerate() {
            for m in 0..8u64 {
                let off = (k * per_sender) as u64 + m * 65_536;
                c.post_write(0, a, m, 65_536, b.buf + off, b.mr.rkey, m == 7);
            }
        }
        for (a, _) in &eps {
            assert_eq!(c.wait_cqe(a.hca, a.send_cq).unwrap().status, WcStatus::Success);
        }
        let t = c.now();
        c.run_to_idle();
        for (k, (a, b)) in eps.iter().enumerate() {
            let off = (k * per_sender) as u64;
            assert_eq!(c.hosts[0].mem.slice(b.buf + off, 65_536), c.hosts[a.hca].mem.slice(a.buf, 65_536));
        }
        let f = &c.fabric;
        assert_eq!(f.links.iter().map(|l| l.dropped).sum::<u64>(), 0);
        assert!(f.links.iter().map(|l| l.credit_stalls).sum::<u64>() > 0, "the senders were held back");
        assert!(f.hcas().iter().all(|h| h.stats().retransmitted_packets == 0 && h.stats().timeouts == 0));
        // The output port to HCA 0 runs at the link rate less headers.
        let gbps = (4 * per_sender * 8) as f64 / (t as f64 * 1e-12) / 1e9;
        assert!(gbps > 90.0 && gbps < 100.0, "buffer {buffer}: {gbps:.1} Gb/s into HCA 0");
    }
}

fn port_events(c: &Cluster, h: usize) -> Vec<AsyncEvent> {
    c.hosts[h]
        .irqs
        .iter()
        .filter_map(|i| match i {
            Interrupt::Async(e @ (AsyncEvent::PortError { .. } | AsyncEvent::PortActive { .. })) => Some(*e),
            _ => None,
        })
        .collect()
}

#[test]
fn a_port_that_goes_down_and_up_loses_packets_and_retransmission_recovers() {
    let mut c = cluster(Profile::cx4_edr(), 3);
    let attr = QpAttr { timeout: 4, ..QpAttr::default() }; // 65.5 us
    let (a, b) = conn(&mut c, 0, 1, attr);
    c.post_write(0, &a, 1, 65_536, b.buf, b.mr.rkey, true);
    c.run_until(2 * US); // the WRITE is on the wire
    c.fabric.port_down(1, 1).unwrap();
    c.run_until(5 * US);
    assert_eq!(port_events(&c, 1), vec![AsyncEvent::PortError { port: 1 }]);
    assert!(port_events(&c, 0).is_empty() && port_events(&c, 2).is_empty(), "only the HCA whose port went down");
    c.run_until(40 * US);
    c.fabric.port_up(1, 1).unwrap();
    let s = c.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(s.status, WcStatus::Success);
    assert_eq!(port_events(&c, 1), vec![AsyncEvent::PortError { port: 1 }, AsyncEvent::PortActive { port: 1 }]);
    assert!(c.fabric.hca(0).stats().timeouts >= 1);
    let lost = c.fabric.links.iter().map(|l| l.dropped).sum::<u64>() + c.fabric.hca(1).stats().dropped_port_down;
    assert!(lost > 0);
    c.run_to_idle();
    assert_eq!(c.hosts[1].mem.slice(b.buf, 65_536), c.hosts[0].mem.slice(a.buf, 65_536));
}

#[test]
fn a_port_that_stays_down_exhausts_the_retries() {
    let mut c = cluster(Profile::cx4_edr(), 2);
    let attr = QpAttr { timeout: 1, retry_cnt: 2, ..QpAttr::default() };
    let (a, b) = conn(&mut c, 0, 1, attr);
    c.fabric.port_down(1, 1).unwrap();
    c.post_write(0, &a, 1, 4096, b.buf, b.mr.rkey, true);
    let s = c.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(s.status, WcStatus::RetryExcErr);
    assert_eq!(c.fabric.hca(0).stats().timeouts, 3);
    assert_eq!(c.fabric.hca(0).qp_state(a.qpn), Some(QpState::Error));
    assert!(c.fabric.links[1].dropped >= 3, "the first send and two retries, lost at the down port");
}

#[test]
fn back_to_back_a_port_down_takes_both_ends_down() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let (a, b) = pair.connect_rc(QpAttr { timeout: 1, ..QpAttr::default() }, 4096, Access::LOCAL_WRITE);
    pair.fabric.port_down(0, 1).unwrap();
    pair.post_recv(0, &b, 0, 64);
    pair.post_send(0, &a, 0, 32, true);
    pair.run_until(5 * US); // the first send is lost
    pair.fabric.port_up(0, 1).unwrap();
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().status, WcStatus::Success);
    for h in 0..2 {
        assert_eq!(port_events(&pair, h), vec![AsyncEvent::PortError { port: 1 }, AsyncEvent::PortActive { port: 1 }]);
    }
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 1);
    // Each event costs the EQE and MSI-X writes: it lands after the call.
    assert!(pair.fabric.hca(0).port_active());
}

#[test]
fn only_port_one_of_an_existing_hca_can_fail() {
    let mut c = cluster(Profile::cx4_edr(), 2);
    assert_eq!(c.fabric.port_down(0, 2), Err(PortError::NoSuchPort));
    assert_eq!(c.fabric.port_down(0, 0), Err(PortError::NoSuchPort));
    assert_eq!(c.fabric.port_up(2, 1), Err(PortError::NoSuchPort));
    assert!(c.fabric.port_down(1, 1).is_ok());
    // Down twice raises once.
    c.fabric.port_down(1, 1).unwrap();
    c.run_to_idle();
    assert_eq!(port_events(&c, 1).len(), 1);
}

/// 8 HCAs, 64 RC QPs (each HCA has QPs to the 4 HCAs after it and the 4
/// before it, and writes on all of them), 64 KiB WRITEs: every one completes, every
/// region holds its sender's bytes (checked inside `all_to_all`), nothing is
/// lost or retransmitted, and the run is a function of its inputs.
#[test]
fn all_to_all_of_64k_writes_on_8_hcas_and_64_qps_completes_correctly() {
    let run = || all_to_all(Profile::cx4_edr(), 8, 8, 65_536, 6, 2);
    let r = run();
    assert_eq!(r.qps, 64);
    assert_eq!(r.writes, 64 * 6);
    assert_eq!((r.dropped, r.retransmitted), (0, 0));
    // Each HCA sends 8 x 6 x 64 KiB and receives as much: its links are the
    // bottleneck, so the run takes that at 100 Gb/s, plus headers and the
    // start and the end of the pipeline.
    let floor = (8 * 6 * 65_536 * 8) as f64 / 100e9 * 1e12;
    assert!(r.sim_time as f64 > floor && (r.sim_time as f64) < 1.1 * floor, "{} ps vs {floor}", r.sim_time);
    let again = run();
    assert_eq!((again.sim_time, again.events), (r.sim_time, r.events));
}

/// Links have their own rate and propagation delay: a 1x link (25 Gb/s)
/// into the receiver sets the bandwidth, the switch buffers what the 4x
/// sender sends faster, and credits hold the sender back without loss.
#[test]
fn a_slower_link_sets_the_rate_and_back_pressures_the_faster_one() {
    let mut c = cluster(Profile::cx4_edr(), 2);
    c.fabric.links[1].lanes = 1;
    c.fabric.links[1].propagation = 50_000; // 10 m of fibre
    let (a, b) = conn(&mut c, 0, 1, QpAttr::default());
    let n = 16u64;
    for m in 0..n {
        c.post_write(0, &a, m, 65_536, b.buf + m * 65_536, b.mr.rkey, m == n - 1);
    }
    assert_eq!(c.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    let gbps = (n * 65_536 * 8) as f64 / (c.now() as f64 * 1e-12) / 1e9;
    assert!(gbps > 23.0 && gbps < 25.0, "{gbps:.2} Gb/s");
    assert!(c.fabric.links[0].credit_stalls > 0);
    assert_eq!(c.fabric.links.iter().map(|l| l.dropped).sum::<u64>(), 0);
    c.run_to_idle();
    assert_eq!(c.hosts[1].mem.slice(b.buf + 65_536, 65_536), c.hosts[0].mem.slice(a.buf, 65_536));
}
