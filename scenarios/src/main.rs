//! `ksim`: run, explore, replay and check `.scn` race scenarios against the
//! simulated kernel. See SCENARIO-LANGUAGE.md section 6.

use clap::{Parser, Subcommand};
use scenarios::cli;
use std::io::Write;

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
    },
    /// Re-run the exact schedule a report printed.
    Replay {
        file: String,
        schedule: String,
        #[arg(short, long)]
        verbose: bool,
    },
    /// Parse and resolve only; report every error with FILE:LINE:COLUMN.
    Check {
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List the historical bugs `config bug=NAME` can re-introduce.
    Bugs,
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
        Cmd::Run { files, seed, verbose } => cli::cmd_run(&mut out, &files, seed, verbose),
        Cmd::Replay { file, schedule, verbose } => cli::cmd_replay(&mut out, &file, &schedule, verbose),
        Cmd::Check { files } => cli::cmd_check(&mut out, &files),
        Cmd::Bugs => cli::cmd_bugs(&mut out),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    std::process::exit(code);
}
