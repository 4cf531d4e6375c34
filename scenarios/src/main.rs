//! `ksim`: run, explore, replay and check `.scn` race scenarios against the
//! simulated kernel. See SCENARIO-LANGUAGE.md section 6.

use clap::{Parser, Subcommand};
use scenarios::{cli, native};
use std::io::{IsTerminal, Write};

/// mimalloc rather than glibc's malloc: an exploration runs thousands of
/// short executions, each building and dropping a small kernel, and the
/// allocator was a third of its instructions (BENCHMARKS.md, issue 7).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ksim",
    version,
    about = "A deterministic simulator of a small Linux kernel, for hunting and teaching kernel races"
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One deterministic execution per file, the schedule chosen by the seed.
    Run {
        #[arg(required = true)]
        files: Vec<String>,
        /// Seed for the schedule (default: the file's `config seed=`, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Print every step: actor, call, result, virtual time.
        #[arg(short, long)]
        verbose: bool,
        #[command(flatten)]
        tracing: cli::TraceArgs,
        /// Run against the host kernel instead, in a fresh child process.
        #[arg(long)]
        native: bool,
        /// With --native: a scenario the host cannot run is an error.
        #[arg(long, requires = "native")]
        require_native: bool,
    },
    /// Every interleaving (DPOR by default), or random schedules.
    Explore {
        #[arg(required = true)]
        files: Vec<String>,
        /// Preemption bound (a bounded search explores without reduction).
        #[arg(long)]
        preemptions: Option<u32>,
        #[arg(long)]
        max_executions: Option<u64>,
        /// Stop after this many seconds (the report says complete: false).
        #[arg(long)]
        time_limit: Option<f64>,
        /// N random schedules instead of a systematic search.
        #[arg(long, value_name = "N")]
        random: Option<u64>,
        /// Seed for --random or --pct.
        #[arg(long)]
        seed: Option<u64>,
        /// N executions of probabilistic concurrency testing (PCT).
        #[arg(long, value_name = "N")]
        pct: Option<u64>,
        /// The bug depth PCT targets (default 3).
        #[arg(long, value_name = "D")]
        depth: Option<u32>,
        /// Explore only shard I of N (0 <= I < N); `env/N` takes I from
        /// JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID. `ksim merge` joins
        /// the shards' reports.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// One JSON object per file.
        #[arg(long)]
        json: bool,
        /// No partial-order reduction: every runnable actor at every decision.
        #[arg(long)]
        naive: bool,
        /// Threads (default: the machine's cores); the report is the same.
        #[arg(long)]
        jobs: Option<u32>,
        /// Search twice and compare the two reports.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Join `explore --json` reports of shards into one.
    Merge {
        #[arg(required = true)]
        reports: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Re-run the exact schedule a report printed.
    Replay {
        file: String,
        schedule: String,
        #[arg(short, long)]
        verbose: bool,
        #[command(flatten)]
        tracing: cli::TraceArgs,
    },
    /// Parse and resolve only; report every error with FILE:LINE:COLUMN.
    Check {
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List the historical bugs `config bug=NAME` can re-introduce.
    Bugs,
    /// Run each scenario under ksim and on the host kernel; report every result that differs.
    Compare {
        #[arg(required = true)]
        files: Vec<String>,
        /// A scenario the host cannot run is an error.
        #[arg(long)]
        require_native: bool,
        /// Print the host's calls.
        #[arg(short, long)]
        verbose: bool,
    },
    /// The shipped library (or FILES) both ways: a table per subsystem.
    Conformance {
        files: Vec<String>,
        #[arg(long)]
        json: bool,
        /// The table as the book includes it.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// The native runner's child process (internal).
    #[command(name = "__native-child", hide = true)]
    NativeChild {
        file: String,
        #[arg(long)]
        resume: Option<String>,
    },
}

fn main() {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { cli::EXIT_USAGE } else { cli::EXIT_OK });
        }
    };
    let mut out = String::new();
    let code = match args.cmd {
        Cmd::Run { files, verbose, native: true, require_native, .. } => {
            native::conformance::cmd_run_native(&mut out, &native::own_exe(), &files, require_native, verbose)
        }
        Cmd::Run { files, seed, verbose, tracing, .. } => cli::cmd_run_with(&mut out, &files, seed, verbose, &tracing),
        Cmd::Replay { file, schedule, verbose, tracing } => {
            cli::cmd_replay_with(&mut out, &file, &schedule, verbose, &tracing)
        }
        Cmd::Check { files } => cli::cmd_check(&mut out, &files),
        Cmd::Explore {
            files,
            preemptions,
            max_executions,
            time_limit,
            random,
            seed,
            pct,
            depth,
            shard,
            json,
            naive,
            jobs,
            check_determinism,
        } => {
            let jobs = jobs.or_else(|| std::thread::available_parallelism().ok().map(|n| n.get() as u32));
            let a = cli::ExploreArgs {
                preemptions,
                max_executions,
                time_limit_s: time_limit,
                random,
                seed,
                shard,
                json,
                naive,
                jobs,
                pct,
                depth,
                // A progress bar only for a person watching: never in JSON
                // output, never when stderr is a file or a pipe.
                progress: !json && std::io::stderr().is_terminal(),
                check_determinism,
            };
            cli::cmd_explore(&mut out, &files, &a)
        }
        Cmd::Merge { reports, json } => cli::cmd_merge(&mut out, &reports, json),
        Cmd::Bugs => cli::cmd_bugs(&mut out),
        Cmd::Compare { files, require_native, verbose } => {
            native::conformance::cmd_compare(&mut out, &native::own_exe(), &files, require_native, verbose)
        }
        Cmd::Conformance { files, json, markdown } => {
            native::conformance::cmd_conformance(&mut out, &native::own_exe(), &files, json, markdown)
        }
        Cmd::NativeChild { file, resume } => native::interp::child_main(&file, resume.as_deref()),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    std::process::exit(code);
}
