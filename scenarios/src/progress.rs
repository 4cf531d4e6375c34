//! The progress bar of `ksim explore` on stderr (indicatif): executions
//! done, their rate, the time elapsed and, where the number of executions
//! is known in advance (`--random N`, `--pct N`, `--max-executions N`),
//! the time remaining. The caller draws it only when stderr is a terminal
//! and the output is not JSON; it never reaches stdout or a report.

use crate::explore::{ExploreOptions, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::time::Duration;

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
