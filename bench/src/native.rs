//! The host kernel's baselines, through real system calls (libc).

use std::time::Instant;

fn check(r: isize, what: &str) {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
}

/// Seconds for `n` eventfd write+read pairs of 8 bytes from one thread.
pub fn eventfd_pairs(n: u64) -> f64 {
    // SAFETY: plain syscalls on an fd this function owns, with buffers of
    // the size passed.
    unsafe {
        let fd = libc::eventfd(0, 0);
        assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
        let one: u64 = 1;
        let mut v: u64 = 0;
        let t = Instant::now();
        for _ in 0..n {
            check(libc::write(fd, &one as *const u64 as *const libc::c_void, 8), "write");
            check(libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8), "read");
        }
        let s = t.elapsed().as_secs_f64();
        libc::close(fd);
        s
    }
}

/// Seconds for `n` pipe write+read pairs of 8 bytes from one thread.
pub fn pipe_pairs(n: u64) -> f64 {
    // SAFETY: as above.
    unsafe {
        let mut fds = [0i32; 2];
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), 0), 0, "pipe2");
        let buf = *b"abcdefgh";
        let mut got = [0u8; 8];
        let t = Instant::now();
        for _ in 0..n {
            check(libc::write(fds[1], buf.as_ptr() as *const libc::c_void, 8), "write");
            check(libc::read(fds[0], got.as_mut_ptr() as *mut libc::c_void, 8), "read");
        }
        let s = t.elapsed().as_secs_f64();
        libc::close(fds[0]);
        libc::close(fds[1]);
        s
    }
}

/// Seconds for `n` round trips between two threads over two eventfds with
/// blocking reads: this thread writes `a` and reads `b`, the other reads
/// `a` and writes `b`.
pub fn eventfd_pingpong(n: u64) -> f64 {
    // SAFETY: as above; both fds outlive the joined thread.
    unsafe {
        let a = libc::eventfd(0, 0);
        let b = libc::eventfd(0, 0);
        assert!(a >= 0 && b >= 0);
        let pong = std::thread::spawn(move || {
            let one: u64 = 1;
            let mut v: u64 = 0;
            for _ in 0..n {
                check(libc::read(a, &mut v as *mut u64 as *mut libc::c_void, 8), "read");
                check(libc::write(b, &one as *const u64 as *const libc::c_void, 8), "write");
            }
        });
        let one: u64 = 1;
        let mut v: u64 = 0;
        let t = Instant::now();
        for _ in 0..n {
            check(libc::write(a, &one as *const u64 as *const libc::c_void, 8), "write");
            check(libc::read(b, &mut v as *mut u64 as *mut libc::c_void, 8), "read");
        }
        let s = t.elapsed().as_secs_f64();
        pong.join().expect("pong thread");
        libc::close(a);
        libc::close(b);
        s
    }
}
