//! `ksim`: run, explore, replay and check `.scn` race scenarios against the
//! simulated kernel. See the book's scenario-language chapter, "The `ksim`
//! command". Numeric
//! arguments are checked against the ranges of `scenarios::limits` here
//! (a bad one is exit status 2 with the reason); `ksim explore` catches
//! SIGINT and SIGTERM and still prints its report (exit status 130).

#[cfg(not(loom))]
use clap::{Parser, Subcommand};
#[cfg(not(loom))]
use scenarios::{cli, native};
#[cfg(not(loom))]
use std::io::{IsTerminal, Write};

/// mimalloc rather than glibc's malloc: an exploration runs thousands of
/// short executions, each building and dropping a small kernel, and the
/// allocator was a third of its instructions (BENCHMARKS.md, issue 7).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(loom))]
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

#[cfg(not(loom))]
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
        #[command(flatten)]
        limits: cli::LimitArgs,
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
        /// Stop after N executions (the report says complete: false).
        #[arg(long, value_name = "N", value_parser = scenarios::limits::parse_count)]
        max_executions: Option<u64>,
        #[command(flatten)]
        limits: cli::LimitArgs,
        /// N random schedules instead of a systematic search.
        #[arg(long, value_name = "N", value_parser = scenarios::limits::parse_count)]
        random: Option<u64>,
        /// Seed for --random or --pct.
        #[arg(long)]
        seed: Option<u64>,
        /// N executions of probabilistic concurrency testing (PCT).
        #[arg(long, value_name = "N", value_parser = scenarios::limits::parse_count)]
        pct: Option<u64>,
        /// The bug depth PCT targets (default 3, at most 64).
        #[arg(long, value_name = "D",
              value_parser = clap::value_parser!(u32).range(1..=scenarios::limits::MAX_DEPTH as i64))]
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
        /// Threads (default: the machine's cores, at most 256); the report
        /// is the same.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=scenarios::limits::MAX_JOBS as i64))]
        jobs: Option<u32>,
        /// Search twice and compare the two reports.
        #[arg(long)]
        check_determinism: bool,
        /// No progress lines on stderr (printed every few seconds when
        /// stderr is not a terminal).
        #[arg(short, long)]
        quiet: bool,
        /// `ksim` (this build) or `loom`: loom needs the loom build of
        /// ksim, `./loom.sh explore FILE`.
        #[arg(long, value_name = "ksim|loom", default_value = "ksim", value_parser = ["ksim", "loom"])]
        engine: String,
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
        #[command(flatten)]
        limits: cli::LimitArgs,
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

/// The loom build (`./loom.sh`): `ksim explore [--engine loom] FILE...`
/// and nothing else.
#[cfg(loom)]
fn main() {
    std::process::exit(scenarios::loom_engine::cli_main(std::env::args().skip(1).collect()));
}

#[cfg(not(loom))]
fn main() {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
                // One line: the argument and why it is out of range.
                let text = e.render().to_string();
                eprintln!("{}", text.lines().next().unwrap_or("error: a bad argument"));
            } else {
                let _ = e.print();
            }
            std::process::exit(if e.use_stderr() { cli::EXIT_USAGE } else { cli::EXIT_OK });
        }
    };
    let mut out = String::new();
    let code = match args.cmd {
        Cmd::Run { files, verbose, native: true, require_native, .. } => {
            native::conformance::cmd_run_native(&mut out, &native::own_exe(), &files, require_native, verbose)
        }
        Cmd::Run { files, seed, verbose, tracing, limits, .. } => {
            cli::cmd_run_limited(&mut out, &files, seed, verbose, &tracing, &limits)
        }
        Cmd::Replay { file, schedule, verbose, tracing, limits } => {
            cli::cmd_replay_limited(&mut out, &file, &schedule, verbose, &tracing, &limits)
        }
        Cmd::Check { files } => cli::cmd_check(&mut out, &files),
        Cmd::Explore { engine, .. } if engine == "loom" => {
            eprintln!("{}", scenarios::loom_engine::NATIVE_BUILD);
            cli::EXIT_USAGE
        }
        Cmd::Explore {
            files,
            preemptions,
            max_executions,
            limits,
            random,
            seed,
            pct,
            depth,
            shard,
            json,
            naive,
            jobs,
            check_determinism,
            quiet,
            engine: _,
        } => {
            // SIGINT and SIGTERM end the search, which prints what it found.
            scenarios::limits::install_signal_handlers();
            let jobs = jobs.or_else(|| {
                std::thread::available_parallelism().ok().map(|n| (n.get() as u32).min(scenarios::limits::MAX_JOBS))
            });
            let stderr_tty = std::io::stderr().is_terminal();
            let a = cli::ExploreArgs {
                preemptions,
                max_executions,
                time_limit_s: limits.time_limit,
                max_steps: limits.max_steps,
                granularity: limits.granularity,
                no_named_yield_points: limits.no_named_yield_points,
                bugs: limits.bugs.clone(),
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
                progress: !json && stderr_tty,
                // A line every few seconds for a log (never on stdout).
                progress_lines: !quiet && !stderr_tty,
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
