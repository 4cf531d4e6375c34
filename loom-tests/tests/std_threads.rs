//! The third runtime: the same eventfd code on plain OS threads (no
//! executor, no loom). Blocking calls sleep on the wait queue's std
//! condition variable; these tests would hang on a lost wake-up and fail on
//! a lost or duplicated increment. Each runs well under a second.
#![cfg(not(loom))]

use loom_tests::{assert_drained_and_freed, read_u64, setup};
use sim_kernel::abi::{EFD_NONBLOCK, EFD_SEMAPHORE, POLLIN};
use sim_kernel::bugs::BugSet;
use sim_kernel::eventfd::{eventfd_ctx_fdget, eventfd_ctx_put, eventfd_signal};
use sim_kernel::syscall::{sys_close, sys_eventfd2, sys_poll, sys_read, sys_write};
use sim_kernel::{Errno, Task};
use std::thread;
use std::time::{Duration, Instant};

const WRITERS: u64 = 4;
const WRITES: u64 = 10_000;
const ONE: [u8; 8] = 1u64.to_le_bytes();

/// 4 threads x 10,000 writes of 1 against one blocking reader that reads
/// until it has consumed the total.
/// WRITERS threads, each writing 1 to `fd` WRITES times.
fn spawn_writers(t: &Task, fd: i64) -> Vec<thread::JoinHandle<()>> {
    (0..WRITERS)
        .map(|_| {
            let t = t.clone();
            thread::spawn(move || {
                for _ in 0..WRITES {
                    assert_eq!(sys_write(&t, fd, &ONE), Ok(8));
                }
            })
        })
        .collect()
}

#[test]
fn many_writers_one_blocking_reader() {
    let start = Instant::now();
    let (k, t) = setup(BugSet::NONE);
    let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
    let reader = {
        let t = t.clone();
        thread::spawn(move || {
            let (mut got, mut reads) = (0, 0u64);
            while got < WRITERS * WRITES {
                got += read_u64(&sys_read(&t, fd, 8).unwrap());
                reads += 1;
            }
            assert_eq!(got, WRITERS * WRITES);
            reads
        })
    };
    let writers = spawn_writers(&t, fd);
    for w in writers {
        w.join().unwrap();
    }
    let reads = reader.join().unwrap();
    assert!(reads >= 1);
    assert_drained_and_freed(&k, &t, fd);
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

/// Semaphore mode: 4 writers x 10,000 against 2 readers that each take
/// exactly 1 per read, until the total is consumed. The readers are
/// non-blocking (EAGAIN: retry), so neither can sleep past the last write.
#[test]
fn semaphore_writers_and_readers() {
    let (k, t) = setup(BugSet::NONE);
    let fd = sys_eventfd2(&t, 0, EFD_SEMAPHORE | EFD_NONBLOCK).unwrap() as i64;
    let total = WRITERS * WRITES;
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (t, taken) = (t.clone(), taken.clone());
            thread::spawn(move || {
                use std::sync::atomic::Ordering::Relaxed;
                while taken.load(Relaxed) < total {
                    match sys_read(&t, fd, 8) {
                        Ok(b) => {
                            assert_eq!(read_u64(&b), 1, "semaphore reads take 1");
                            taken.fetch_add(1, Relaxed);
                        }
                        Err(Errno::EAGAIN) => thread::yield_now(),
                        Err(e) => panic!("read: {e:?}"),
                    }
                }
            })
        })
        .collect();
    let writers = spawn_writers(&t, fd);
    for h in writers.into_iter().chain(readers) {
        h.join().unwrap();
    }
    assert_eq!(taken.load(std::sync::atomic::Ordering::Relaxed), total);
    assert_eq!(sys_read(&t, fd, 8), Err(Errno::EAGAIN));
    sys_close(&t, fd).unwrap();
    assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
}

/// Across OS threads: a poller sees a write, a reader asleep on the wait
/// queue is woken by a write, and a reader asleep when its fd is closed
/// keeps its file and is woken by an in-kernel `eventfd_signal`.
#[test]
fn blocked_reader_woken_across_threads() {
    let (k, t) = setup(BugSet::NONE);
    let fd = sys_eventfd2(&t, 0, 0).unwrap() as i64;
    let ctx = eventfd_ctx_fdget(&t, fd).unwrap();

    // A poller asleep on one thread sees a write from another.
    let poller = {
        let t = t.clone();
        thread::spawn(move || sys_poll(&t, fd, POLLIN, -1))
    };
    thread::sleep(Duration::from_millis(20));
    assert_eq!(sys_write(&t, fd, &7u64.to_le_bytes()), Ok(8));
    assert_eq!(poller.join().unwrap(), Ok(POLLIN));
    assert_eq!(read_u64(&sys_read(&t, fd, 8).unwrap()), 7);

    // A reader asleep on the wait queue is woken by a write.
    let reader = {
        let t = t.clone();
        thread::spawn(move || sys_read(&t, fd, 8))
    };
    thread::sleep(Duration::from_millis(20));
    assert_eq!(sys_write(&t, fd, &3u64.to_le_bytes()), Ok(8));
    assert_eq!(read_u64(&reader.join().unwrap().unwrap()), 3);

    // Close while blocked: the reader holds the file, the close does not
    // wake it, and the in-kernel signal does.
    let reader = {
        let t = t.clone();
        thread::spawn(move || sys_read(&t, fd, 8))
    };
    thread::sleep(Duration::from_millis(20));
    sys_close(&t, fd).unwrap();
    thread::sleep(Duration::from_millis(5));
    assert!(!reader.is_finished(), "close must not wake the reader");
    assert_eq!(eventfd_signal(&ctx, 1), 1);
    assert_eq!(read_u64(&reader.join().unwrap().unwrap()), 1);
    assert_eq!(ctx.count(), 0);
    eventfd_ctx_put(&ctx);
    assert!(ctx.hdr.is_released());
    assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
}
