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
