//! The progress of `ksim explore` on stderr, never on stdout or in a
//! report:
//!
//! - on a terminal, a bar (indicatif): executions done, their rate, the
//!   time elapsed and, where the number of executions is known in advance
//!   (`--random N`, `--pct N`, `--max-executions N`), the time remaining
//!   (not with `--json`);
//! - elsewhere (a file, a pipe, a CI log), a line every [`LINE_EVERY`]
//!   from a thread of its own: executions so far over every file, their
//!   rate, the time elapsed ([`lines`]). `--quiet` turns it off.

use crate::explore::{ExploreOptions, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often [`lines`] prints.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

/// A live progress bar; cleared when dropped.
pub struct Bar(ProgressBar);

/// How many executions the search will make, if known in advance.
pub fn planned(o: &ExploreOptions) -> Option<u64> {
    let (si, sn) = o.shard.map(|(i, n)| (i as u64, n.max(1) as u64)).unwrap_or((0, 1));
    // Indices i < n with i mod sn == si.
    let in_shard = |n: u64| if n > si { (n - si).div_ceil(sn) } else { 0 };
    let n = o.random.map(|(n, _)| in_shard(n)).or(o.pct.map(|p| in_shard(p.count)));
    match (n, o.max_executions) {
        (Some(n), Some(m)) => Some(n.min(m)),
        (n, m) => n.or(m),
    }
}

/// A bar for exploring `path` with `o`, drawing on stderr.
pub fn bar(path: &str, o: &ExploreOptions) -> Bar {
    let pb = match planned(o) {
        Some(n) => {
            let pb = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {human_pos}/{human_len} executions, {per_sec}, {elapsed} elapsed, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb
        }
        None => {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} {human_pos} executions, {per_sec}, {elapsed} elapsed")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb
        }
    };
    pb.set_message(path.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    Bar(pb)
}

impl Bar {
    /// The sink the explorer reports executions to.
    pub fn sink(&self) -> Progress {
        let pb = self.0.clone();
        Progress(Some(Arc::new(move |n| pb.inc(n))))
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Progress lines on stderr (see the module docs); the thread printing
/// them ends when this is dropped.
pub struct Lines {
    count: Arc<AtomicU64>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Start printing a progress line every [`LINE_EVERY`] for a search of
/// `files`.
pub fn lines(files: &[String]) -> Lines {
    let count = Arc::new(AtomicU64::new(0));
    let (stop, rx) = mpsc::channel::<()>();
    let what = match files {
        [one] => one.clone(),
        many => format!("{} files", many.len()),
    };
    let c = count.clone();
    let thread = std::thread::Builder::new()
        .name("ksim-progress".into())
        .spawn(move || {
            let start = Instant::now();
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(LINE_EVERY) {
                eprintln!("{}", line(&what, c.load(Ordering::Relaxed), start.elapsed()));
            }
        })
        .ok();
    Lines { count, stop: Some(stop), thread }
}

/// One progress line.
fn line(what: &str, n: u64, elapsed: Duration) -> String {
    let s = elapsed.as_secs_f64();
    let rate = if s > 0.0 { n as f64 / s } else { 0.0 };
    format!("ksim explore {what}: {n} executions, {rate:.0}/s, {:.0} s elapsed", s)
}

impl Lines {
    /// The sink the explorer reports executions to.
    pub fn sink(&self) -> Progress {
        let c = self.count.clone();
        Progress(Some(Arc::new(move |n| {
            c.fetch_add(n, Ordering::Relaxed);
        })))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_says_executions_rate_and_time() {
        let l = super::line("a.scn", 1000, std::time::Duration::from_secs(4));
        assert_eq!(l, "ksim explore a.scn: 1000 executions, 250/s, 4 s elapsed");
    }
}
