//! Front-end tests through the `ksim` subcommands' library functions
//! ([`crate::cli`]) with the real catalog: files that are not UTF-8, files
//! with very many errors or many names (issue 13, finding 6), and values
//! too large to build (finding 3).

use crate::cli::{cmd_check, load, EXIT_USAGE};
use std::time::{Duration, Instant};

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let p = std::env::temp_dir().join(format!("ksim-lang-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).expect("write a temporary file");
        TempFile(p)
    }

    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn check(f: &TempFile) -> (i32, String) {
    let mut out = String::new();
    let code = cmd_check(&mut out, &[f.path()]);
    (code, out)
}

#[test]
fn a_file_that_is_not_utf8_is_an_error_at_its_first_bad_byte() {
    let f =
        TempFile::new("bad-utf8.scn", b"scenario \"x\"\nsetup:\n  e = eventfd(0, 0)\n  write(e, \"\xc3\xa9b\xff\")\n");
    let (code, out) = check(&f);
    assert_eq!(code, EXIT_USAGE, "{out}");
    // Line 4; the column counts characters: `é` is one.
    assert!(out.starts_with("error: the file is not UTF-8 text (byte 0xff at offset 55)\n"), "{out}");
    assert!(out.contains(&format!(" --> {}:4:15\n", f.path())), "{out}");
    assert!(out.contains("4 |   write(e, \"éb\u{fffd}\")\n  |               ^ expected UTF-8 text\n"), "{out}");
    // `ksim run`, `replay` and `explore` read files the same way.
    assert_eq!(load(&f.path()).err(), Some(out.clone()));
    let mut explored = String::new();
    let code = crate::cli::cmd_explore(&mut explored, &[f.path()], &crate::cli::ExploreArgs::default());
    assert_eq!((code, explored), (EXIT_USAGE, out));
}

#[test]
fn a_bad_byte_on_the_first_line_after_a_byte_order_mark() {
    let f = TempFile::new("bad-utf8-bom.scn", b"\xef\xbb\xbfab\x80\nsetup:\n");
    let (code, out) = check(&f);
    assert_eq!(code, EXIT_USAGE, "{out}");
    assert!(out.contains(":1:3\n"), "{out}");
    assert!(out.contains("1 | ab\u{fffd}\n  |   ^ expected"), "{out}");
}

#[test]
fn a_hundred_thousand_errors_are_counted_not_printed() {
    let mut src = String::from("setup:\n");
    for _ in 0..100_000 {
        src.push_str("  x = nosuchcall()\n");
    }
    let f = TempFile::new("many-errors.scn", src.as_bytes());
    let t = Instant::now();
    let (code, out) = check(&f);
    let took = t.elapsed();
    assert_eq!(code, EXIT_USAGE);
    assert_eq!(out.matches("error: unknown call `nosuchcall`").count(), crate::lang::diag::MAX_SHOWN, "{out}");
    assert!(out.contains(&format!(" --> {}:51:7\n", f.path())), "the 50th error is on line 51");
    assert!(!out.contains(":52:7"), "{out}");
    assert!(out.ends_with("\nand 99950 more errors (only the first 50 are shown)\n"), "{out}");
    // Linear: about a second in a release build (it took a minute when
    // each error split the whole source again); generous for debug builds
    // on a loaded machine.
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn exactly_the_cap_prints_no_count() {
    let mut src = String::from("setup:\n");
    for _ in 0..crate::lang::diag::MAX_SHOWN {
        src.push_str("  x = nosuchcall()\n");
    }
    let f = TempFile::new("cap-errors.scn", src.as_bytes());
    let (_, out) = check(&f);
    assert!(!out.contains("more error"), "{out}");
    src.push_str("  x = nosuchcall()\n");
    let f = TempFile::new("cap-errors-1.scn", src.as_bytes());
    let (_, out) = check(&f);
    assert!(out.ends_with("\nand 1 more error (only the first 50 are shown)\n"), "{out}");
}

/// Lines that each write a 64 MiB `fill`: 5.4 GB and 19 s to check 40 of
/// them, and an allocation failure for 255, before the limit.
fn huge_fills(lines: usize) -> String {
    let mut src = String::from("scenario \"big\"\nsetup:\n  e = eventfd(0, 0)\n");
    for _ in 0..lines {
        src.push_str("  write(e, cat(fill(67108864, 1), fill(3, 2)))\n");
    }
    src
}

#[test]
fn a_huge_fill_is_an_error_found_without_building_it() {
    let f = TempFile::new("huge-fill.scn", huge_fills(1).as_bytes());
    let (code, out) = check(&f);
    assert_eq!(code, EXIT_USAGE, "{out}");
    assert_eq!(
        out,
        format!(
            "error: `fill(...)` would be 67108864 bytes, more than a value may hold\n --> {}:4:16\n  |\n\
             4 |   write(e, cat(fill(67108864, 1), fill(3, 2)))\n  |                ^^^^^^^^^^^^^^^^^ \
             expected a value of at most 4194304 bytes (4 MiB)\n  = help: the limit keeps a typo from \
             exhausting memory; no call takes a buffer this large\n",
            f.path()
        )
    );
}

#[test]
fn two_hundred_and_fifty_five_huge_fills_check_at_once() {
    let f = TempFile::new("huge-fills.scn", huge_fills(255).as_bytes());
    let t = Instant::now();
    let (code, out) = check(&f);
    let took = t.elapsed();
    assert_eq!(code, EXIT_USAGE, "{out}");
    assert_eq!(out.matches("would be 67108864 bytes").count(), 50, "{out}");
    assert!(out.ends_with("\nand 205 more errors (only the first 50 are shown)\n"), "{out}");
    // Milliseconds: nothing of 16 GB is built.
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn many_large_constants_are_built_at_run_time_past_the_fold_budget() {
    // 255 values of 4 MiB (the limit): folding them all would hold 1 GiB.
    let mut src = String::from("setup:\n  (r, w) = pipe2(O_NONBLOCK)\n");
    for _ in 0..255 {
        src.push_str("  write(w, fill(4194304, 1)) => 65536 or EAGAIN\n");
    }
    let prog = crate::cli::load_source("many.scn", &src).expect("compiles");
    let folded: usize = prog
        .setup
        .iter()
        .filter_map(|op| match op {
            crate::lang::ir::Op::Call(c) => c.args.get(1),
            _ => None,
        })
        .map(|a| match a {
            crate::lang::ir::IrExpr::Const(crate::lang::ir::Const::Bytes(b)) => b.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(folded as u64, crate::lang::resolve::FOLD_BUDGET);
    // The rest run as they would have, built one at a time.
    let f = TempFile::new("many-4mib.scn", src.as_bytes());
    let mut out = String::new();
    assert_eq!(crate::cli::cmd_run(&mut out, &[f.path()], None, false), crate::cli::EXIT_OK, "{out}");
}

#[test]
fn a_value_too_large_at_run_time_is_an_evaluation_error() {
    // 40 pipe buffers, 2.5 MiB: each fill fits, the two together do not;
    // the size is known only when the statement runs.
    let src = "setup:\n  (r, w) = pipe()\n  n = fcntl(w, F_GETPIPE_SZ)\n  \
               write(w, cat(fill(n * 40, 1), fill(n * 40, 2)))\n";
    let f = TempFile::new("runtime-big.scn", src.as_bytes());
    let mut out = String::new();
    assert_eq!(crate::cli::cmd_run(&mut out, &[f.path()], None, false), crate::cli::EXIT_VIOLATION, "{out}");
    assert!(
        out.contains(
            ":4: section `setup`: write(w, cat(fill(n * 40, 1), fill(n * 40, 2))): cat(...): 5242880 bytes, more than the \
             4194304 (4 MiB) a value may hold"
        ),
        "{out}"
    );
    // One fill over the limit, from a run-time length (an address).
    let src = "setup:\n  a = mmap(4096)\n  (r, w) = pipe()\n  write(w, fill(a, 1))\n";
    let f = TempFile::new("runtime-fill.scn", src.as_bytes());
    let mut out = String::new();
    assert_eq!(crate::cli::cmd_run(&mut out, &[f.path()], None, false), crate::cli::EXIT_VIOLATION, "{out}");
    assert!(out.contains("bytes, more than the 4194304 (4 MiB) a value may hold"), "{out}");
}

#[test]
fn suggestions_stop_at_the_cap_so_many_unknown_names_stay_linear() {
    // Each unknown name was compared with every bound name: 20,000 of
    // each took 200 s.
    let n = 20_000;
    let mut src = String::from("setup:\n");
    for i in 0..n {
        src.push_str(&format!("  x{i} = eventfd(0, 0)\n"));
    }
    for i in 0..n {
        src.push_str(&format!("  close(y{i})\n"));
    }
    let f = TempFile::new("many-names.scn", src.as_bytes());
    let t = Instant::now();
    let (code, out) = check(&f);
    let took = t.elapsed();
    assert_eq!(code, EXIT_USAGE);
    // The errors shown still have their suggestions.
    assert!(out.starts_with("error: unknown name `y0`\n"), "{out}");
    assert!(out.contains("expected a name bound earlier or a constant; did you mean `x0`?"), "{out}");
    assert!(out.ends_with("\nand 19950 more errors (only the first 50 are shown)\n"), "{out}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn an_actor_with_many_names_is_not_listed_whole() {
    let mut src = String::from("thread t:\n");
    for i in 0..31 {
        src.push_str(&format!("  a{i} = eventfd(0, 0)\n"));
    }
    src.push_str("check:\n  assert t.zz == 0\n");
    let err = crate::cli::load_source("t.scn", &src).err().unwrap_or_default();
    assert!(err.contains("expected a name bound by `t` (it binds 31)\n"), "{err}");
}
