//! The scenarios the benchmarks run, generated with their sizes as
//! parameters (written to `target/bench/` so `ksim` runs them as files).
//! Each raises the per-execution step limit (`config max_steps=`, default
//! 100,000 calls) to what its size needs.

use std::fmt::Write as _;

/// `n` eventfd write+read pairs in `setup`.
pub fn eventfd_pairs(n: u64) -> String {
    format!(
        "scenario \"eventfd write+read pairs ({n})\"\nconfig max_steps={}\n\nsetup:\n  efd = eventfd(0, 0)\n  repeat {n}:\n    \
         eventfd_write(efd, 1) => 0\n    eventfd_read(efd) => 1\n  close(efd)\n",
        2 * n + 8
    )
}

/// `n` 8-byte pipe write+read pairs in `setup` (needs `pipe2`).
pub fn pipe_pairs(n: u64) -> String {
    format!(
        "scenario \"pipe 8-byte write+read pairs ({n})\"\nconfig max_steps={}\n\nsetup:\n  (r, w) = pipe2(0)\n  repeat {n}:\n    \
         write(w, b\"abcdefgh\") => 8\n    read(r, 8) => b\"abcdefgh\"\n  close(r)\n  close(w)\n",
        2 * n + 8
    )
}

/// Two threads, `n` round trips over two eventfds with blocking reads.
pub fn pingpong(n: u64) -> String {
    format!(
        "scenario \"two-actor blocking ping-pong ({n})\"\nconfig max_steps={}\n\nsetup:\n  a = eventfd(0, 0)\n  b = eventfd(0, 0)\n\n\
         thread ping:\n  repeat {n}:\n    eventfd_write(a, 1) => 0\n    eventfd_read(b) => 1\n\n\
         thread pong:\n  repeat {n}:\n    eventfd_read(a) => 1\n    eventfd_write(b, 1) => 0\n\n\
         finally:\n  close(a)\n  close(b)\n",
        4 * n + 8
    )
}

/// `actors` threads; each writes `steps` times to its own eventfd, then
/// once to a shared one. Only the shared writes conflict, so a reduced
/// search needs `actors!` executions; a naive one needs the multinomial
/// (actors * (steps + 1))! / ((steps + 1)!)^actors. With `fail`, the
/// check is wrong on purpose (the run must report it, exit 1, and not
/// abort).
pub fn actors(actors: usize, steps: u64, fail: bool) -> String {
    let calls = actors as u64 * (steps + 3) + 8;
    let mut s = format!(
        "scenario \"{actors} actors x {steps} private steps + 1 shared\"\nconfig max_steps={calls}\n\nsetup:\n"
    );
    let _ = writeln!(s, "  shared = eventfd(0, 0)");
    for i in 0..actors {
        let _ = writeln!(s, "  e{i} = eventfd(0, 0)");
    }
    for i in 0..actors {
        let _ = write!(s, "\nthread t{i}:\n");
        if steps > 0 {
            let _ = write!(s, "  repeat {steps}:\n    eventfd_write(e{i}, 1) => 0\n");
        }
        let _ = writeln!(s, "  eventfd_write(shared, 1) => 0");
    }
    let _ = write!(s, "\nfinally:\n  total = eventfd_read(shared)\n");
    for i in 0..actors {
        let _ = writeln!(s, "  close(e{i})");
    }
    let _ = writeln!(s, "  close(shared)");
    let want = if fail { actors as u64 + 1 } else { actors as u64 };
    let _ = write!(s, "\ncheck:\n  assert total == {want}\n");
    s
}
