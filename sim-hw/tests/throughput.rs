//! How fast the model itself runs: simulated events per wall-clock second.
//! Prints the figures; asserts nothing about time (the machine may be
//! loaded). Run with `--nocapture` to see them.

mod perftest;

use std::time::Instant;

use perftest::{send_lat, write_bw};
use sim_hw::Profile;

fn measure(name: &str, f: impl FnOnce() -> u64) {
    let start = Instant::now();
    let events = f();
    let secs = start.elapsed().as_secs_f64();
    println!("{name:<32} {events:>10} events {:>8.3} s {:>8.2} M events/s", secs, events as f64 / secs / 1e6);
    assert!(events > 0);
}

#[test]
fn model_events_per_second() {
    measure("ib_send_lat 32 B x 20000", || send_lat(Profile::cx4_edr(), 32, 20_000).1);
    measure("ib_send_lat 4 KiB x 20000", || send_lat(Profile::cx4_edr(), 4096, 20_000).1);
    measure("ib_write_bw 64 B x 200000", || write_bw(Profile::cx4_edr(), 64, 200_000, 4096).1);
    measure("ib_write_bw 64 KiB MTU 4096 x 5000", || write_bw(Profile::cx4_edr(), 65536, 5000, 4096).1);
}

/// The model's cost per event as the QP count grows (64 KiB all-to-all
/// WRITEs behind one switch, about 2,048 WRITEs per point): it should stay
/// flat, as every per-event lookup is O(1) or O(log n).
#[test]
fn cost_per_event_against_the_qp_count() {
    for size in [65_536, 64] {
        for (hcas, q) in [(2, 1), (4, 2), (8, 4), (16, 8), (32, 16), (64, 16)] {
            let writes = (if size > 64 { 2048 } else { 65536 } / (hcas * q) as u64).max(2);
            let mut run = sim_hw::perftest::AllToAllRun::new(Profile::cx4_edr(), hcas, q, size, writes, 2);
            let start = Instant::now();
            let r = run.run();
            let secs = start.elapsed().as_secs_f64();
            run.check();
            println!(
                "{size:>6} B {:>5} QPs on {hcas:>2} HCAs: {:>8} events {:>7.3} s {:>6.1} ns/event",
                r.qps,
                r.events,
                secs,
                secs * 1e9 / r.events as f64
            );
        }
    }
}
