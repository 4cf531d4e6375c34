//! Front-end tests through the `ksim` subcommands' library functions
//! ([`crate::cli`]) with the real catalog: files that are not UTF-8, files
//! with very many errors (issue 13, finding 6), and values too large to
//! build (finding 3).

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
    assert_eq!(load(&f.path()).err(), Some(out));
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
