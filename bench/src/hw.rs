//! The simulated hardware's rows (issue 15): the model's events per
//! wall-clock second, a 1 GiB ib_write_bw's wall time against the simulated
//! time it reports, and the cost per event from 2 to 1,024 QPs behind one
//! switch. All run in process on `sim-hw`'s perftest drivers; the rows are
//! judged against the stated targets, as the hardware has no host
//! baseline to run beside it.

use std::time::Instant;

use sim_hw::perftest::{send_lat, write_bw, write_bw_run, AllToAllRun};
use sim_hw::Profile;

use crate::{human, secs, Row};

/// Events per wall-clock second of `f`, which returns the events it ran.
fn events_per_sec(reps: u32, mut f: impl FnMut() -> u64) -> f64 {
    (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            let n = f();
            n as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// (ns per event, the run's figures) of one all-to-all, timing only the run.
fn all_to_all_cost(hcas: usize, q: usize, size: usize, writes: u64) -> (f64, sim_hw::perftest::AllToAll) {
    let mut run = AllToAllRun::new(Profile::cx4_edr(), hcas, q, size, writes, 2);
    let t = Instant::now();
    let r = run.run();
    let s = t.elapsed().as_secs_f64();
    run.check();
    assert_eq!(r.dropped, 0, "a switched fabric never drops for lack of buffer");
    (s * 1e9 / r.events as f64, r)
}

/// The three rows, each the best of `reps` runs.
pub fn rows(reps: u32) -> Vec<Row> {
    let mut rows = Vec::new();
    let p = Profile::cx4_edr;

    // Events per second.
    let wbw = events_per_sec(reps, || write_bw(p(), 64, 200_000, 4096).1);
    let lat = events_per_sec(reps, || send_lat(p(), 32, 20_000).1);
    let big = events_per_sec(reps, || write_bw(p(), 65_536, 5_000, 4096).1);
    eprintln!(
        "sim-hw: {}/s events (ib_write_bw 64 B), {}/s (ib_send_lat 32 B), {}/s (ib_write_bw 64 KiB)",
        human(wbw),
        human(lat),
        human(big)
    );
    rows.push(Row {
        what: "simulated HCA events per wall-clock second (`sim-hw`, ib_write_bw 64 B, 200,000 WRITEs back to back)"
            .into(),
        baseline: "issue 15's target: 5 M events/s".into(),
        ksim: format!(
            "{} events/s (ib_send_lat 32 B: {}; ib_write_bw 64 KiB, where copying the payload dominates: {})",
            human(wbw),
            human(lat),
            human(big)
        ),
        ratio: format!("{:.2} M/s", wbw / 1e6),
        target: ">= 5 M/s".into(),
        met: Some(wbw >= 5e6),
    });

    // 1 GiB ib_write_bw: wall time against simulated time.
    let iters = (1u64 << 30) / 65_536;
    let mut wall = f64::INFINITY;
    let mut run = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let r = write_bw_run(p(), 65_536, iters, 4096);
        wall = wall.min(t.elapsed().as_secs_f64());
        run = Some(r);
    }
    let r = run.unwrap();
    let sim = r.sim_time as f64 * 1e-12;
    eprintln!("sim-hw: 1 GiB ib_write_bw: {} simulated in {} wall", secs(sim), secs(wall));
    let limit = 1.0 / 0.088;
    rows.push(Row {
        what: "1 GiB ib_write_bw (16,384 x 64 KiB RDMA WRITEs, MTU 4096, back to back): wall time / simulated time"
            .into(),
        baseline: format!(
            "simulated {} ({:.2} Gb/s; the real link needs about 88 ms)",
            secs(sim),
            r.bits_per_sec / 1e9
        ),
        ksim: format!("{} wall, {} events", secs(wall), r.events),
        ratio: format!("{:.2}x real time", wall / sim),
        target: format!("<= {limit:.1}x (under 1 s)"),
        met: Some(wall / sim <= limit && wall < 1.0),
    });

    // Scale: cost per event from 2 to 1,024 QPs.
    let points = [(2, 1), (4, 2), (8, 4), (16, 8), (32, 16), (64, 16)];
    let mut big_cells = Vec::new();
    let mut small_cells = Vec::new();
    let (mut first, mut last, mut first_small, mut last_small) = (0.0, 0.0, 0.0, 0.0);
    let mut full = None;
    for (hcas, q) in points {
        let qps = (hcas * q) as u64;
        let best = |size: usize, total: u64| {
            (0..reps.max(1))
                .map(|_| all_to_all_cost(hcas, q, size, (total / qps).max(2)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap()
        };
        let (ns, r) = best(65_536, 2048);
        let (ns_small, _) = best(64, 65_536);
        eprintln!("sim-hw scale: {qps} QPs on {hcas} HCAs: {ns:.0} ns/event (64 KiB), {ns_small:.0} ns/event (64 B)");
        big_cells.push(format!("{qps}: {ns:.0}"));
        small_cells.push(format!("{qps}: {ns_small:.0}"));
        if qps == 2 {
            (first, first_small) = (ns, ns_small);
        }
        (last, last_small) = (ns, ns_small);
        if qps == 1024 {
            full = Some(r);
        }
    }
    let full = full.unwrap();
    let gbps = full.writes as f64 * 65_536.0 * 8.0 / (full.sim_time as f64 * 1e-12) / 1e9;
    rows.push(Row {
        what: "`sim-hw` cost per simulated event, 64 KiB RDMA WRITE all-to-all behind one switch, 2 QPs (2 HCAs) \
               against 1,024 QPs (64 HCAs x 16)"
            .into(),
        baseline: format!("2 QPs: {first:.0} ns/event (64 B WRITEs: {first_small:.0})"),
        ksim: format!(
            "1,024 QPs: {last:.0} ns/event (64 B WRITEs: {last_small:.0}). ns/event by QPs, 64 KiB: {}; 64 B: {}. \
             The 1,024-QP run: {} WRITEs, {} events, {} simulated ({:.0} Gb/s in all), none lost, {} packets \
             held back by credits, every region checked",
            big_cells.join(", "),
            small_cells.join(", "),
            full.writes,
            full.events,
            secs(full.sim_time as f64 * 1e-12),
            gbps,
            full.credit_stalls
        ),
        ratio: format!("{:.2}x ({:.2}x for 64 B)", last / first, last_small / first_small),
        target: "<= 10x (logarithmic: log2 1024 / log2 2; linear would be 512x)".into(),
        met: Some(last / first <= 10.0),
    });
    rows
}
