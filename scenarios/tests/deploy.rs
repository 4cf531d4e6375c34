//! The cluster flow of `deploy/` (issue 20), on this machine: N `ksim
//! explore --shard env/N --json` processes given their index the way a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`) or a Slurm job array
//! (`SLURM_ARRAY_TASK_ID`) gives it, then `ksim merge`; the merged report
//! must be the unsharded one. The shipped scripts themselves
//! (`deploy/slurm/*.sh` and the shell the Kubernetes Jobs run) are run the
//! same way, through a fake environment, and the READMEs' commands are
//! checked against the files they edit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const KSIM: &str = env!("CARGO_BIN_EXE_ksim");

/// Small shipped races (paths under scenarios/) and how many shards:
/// one with an `exists` pair and a root of three actors (so most of 8
/// shards are empty and reach neither `exists`, yet exit 0), one with three
/// readers, and a historical bug whose counterexample one shard finds.
const SCENARIOS: &[(&str, u32)] = &[
    ("library/race_uffd_two_copies.scn", 8),
    ("library/race_semaphore_three_readers.scn", 4),
    ("tests/fail/bug_semaphore_underflow.scn", 4),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn scenario(name: &str) -> String {
    repo().join("scenarios").join(name).to_string_lossy().into_owned()
}

/// A fresh directory for one test's files.
fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ksim-deploy-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ksim ARGS` with neither engine's index variable set.
fn ksim(args: &[&str]) -> Command {
    let mut c = Command::new(KSIM);
    c.args(args).env_remove("JOB_COMPLETION_INDEX").env_remove("SLURM_ARRAY_TASK_ID");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}", text(&o.stdout)))
}

/// The engine that gives shard `i` its index: Kubernetes for even `i`,
/// Slurm for odd, so one split mixes both.
fn engine_var(i: u32) -> &'static str {
    if i.is_multiple_of(2) {
        "JOB_COMPLETION_INDEX"
    } else {
        "SLURM_ARRAY_TASK_ID"
    }
}

#[test]
fn shards_from_the_engines_environment_merge_into_the_unsharded_report() {
    for &(name, n) in SCENARIOS {
        let file = scenario(name);
        let dir = scratch(&name.replace('/', "-"));
        let whole_json = ksim(&["explore", "--json", &file]).output().unwrap();
        let whole_text = ksim(&["explore", &file]).output().unwrap();
        // N processes at once, as the engine would start them.
        let shard = format!("env/{n}");
        let children: Vec<(u32, Child)> = (0..n)
            .map(|i| {
                let out = std::fs::File::create(dir.join(format!("shard-{i}.json"))).unwrap();
                let child = ksim(&["explore", "--json", "--shard", &shard, &file])
                    .env(engine_var(i), i.to_string())
                    .stdout(out)
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (i, child)
            })
            .collect();
        let mut files = Vec::new();
        let mut executions = Vec::new();
        for (i, child) in children {
            let o = child.wait_with_output().unwrap();
            let path = dir.join(format!("shard-{i}.json"));
            let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            // 1 exactly when this shard found a violation (an `exists` it
            // did not reach is the merge's to judge); the report is
            // written either way.
            let want = if r["violations"].as_u64().unwrap() > 0 { 1 } else { 0 };
            assert_eq!(o.status.code(), Some(want), "{name} shard {i}: {:?} {}", o.status, text(&o.stderr));
            // The index came from the engine's variable.
            assert_eq!(r["shard"], format!("{i}/{n}"), "{name} shard {i}");
            executions.push(r["executions"].as_u64().unwrap());
            files.push(path.to_string_lossy().into_owned());
        }
        let whole = json(&whole_json);
        if name.contains("/bug_") {
            assert!(whole["violations"].as_u64() > Some(0), "{name}: the bug is not found");
        }
        assert_eq!(executions.iter().sum::<u64>(), whole["executions"].as_u64().unwrap(), "{name}: {executions:?}");
        // Merged in index order and in reverse (a shell glob sorts
        // shard-10 before shard-2): the same report as the unsharded one,
        // histogram, `exists`, counterexamples and all.
        for order in [files.clone(), files.iter().rev().cloned().collect()] {
            let mut args = vec!["merge", "--json"];
            args.extend(order.iter().map(String::as_str));
            let merged = ksim(&args).output().unwrap();
            assert_eq!(merged.status.code(), whole_json.status.code(), "{name}: {}", text(&merged.stdout));
            let m = json(&merged);
            for key in ["executions", "outcomes", "exists", "counterexamples", "violations", "complete"] {
                assert_eq!(m[key], whole[key], "{name}: merged `{key}` differs from the unsharded search's");
            }
            assert_eq!(m, whole, "{name}: the merged report is not the unsharded one");
            // The human report too.
            let text_args: Vec<&str> = args.iter().filter(|a| **a != "--json").copied().collect();
            let merged_text = ksim(&text_args).output().unwrap();
            assert_eq!(merged_text.status.code(), whole_text.status.code());
            assert_eq!(text(&merged_text.stdout), text(&whole_text.stdout), "{name}: merged text report");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn env_shard_without_an_engine_is_a_usage_error() {
    let o = ksim(&["explore", "--json", "--shard", "env/4", &scenario(SCENARIOS[0].0)]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    let o = ksim(&["explore", "--shard", "env/4", &scenario(SCENARIOS[0].0)])
        .env("SLURM_ARRAY_TASK_ID", "4")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "index 4 of 4: {}", text(&o.stdout));
}

/// `PATH` with the built `ksim` first (the Kubernetes scripts call `ksim`).
fn path_with_ksim() -> String {
    let bin = Path::new(KSIM).parent().unwrap().to_string_lossy().into_owned();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Run a shell script (a file, or `-c TEXT`) with `vars` set, neither
/// engine's index variable inherited.
fn sh(script: &[&str], vars: &[(&str, String)]) -> Output {
    let mut c = Command::new("sh");
    c.args(script).env_remove("JOB_COMPLETION_INDEX").env_remove("SLURM_ARRAY_TASK_ID");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("run sh")
}

/// The unsharded text report of `file` and its exit status.
fn whole_text(file: &str) -> (String, Option<i32>) {
    let o = ksim(&["explore", file]).output().unwrap();
    (text(&o.stdout), o.status.code())
}

#[test]
fn slurm_scripts_shard_and_merge_as_the_readme_says() {
    let (name, n) = SCENARIOS[0];
    let file = scenario(name);
    let out = scratch("slurm");
    let out_s = out.to_string_lossy().into_owned();
    let explore = repo().join("deploy/slurm/explore.sh").to_string_lossy().into_owned();
    let merge = repo().join("deploy/slurm/merge.sh").to_string_lossy().into_owned();
    let common = [("N", n.to_string()), ("FILE", file.clone()), ("OUT", out_s.clone()), ("KSIM", KSIM.to_string())];
    for i in 0..n {
        let mut vars = common.to_vec();
        vars.push(("SLURM_ARRAY_TASK_ID", i.to_string()));
        let o = sh(&[&explore], &vars);
        // Every task succeeds (afterok releases the merge), even a shard
        // whose own report fails.
        assert_eq!(o.status.code(), Some(0), "task {i}: {}", text(&o.stderr));
        assert!(out.join(format!("shard-{i}.json")).is_file(), "task {i} wrote no report");
    }
    let o = sh(&[&merge], &common);
    let (whole, code) = whole_text(&file);
    assert_eq!(o.status.code(), code, "merge.sh's status is the search's: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), whole, "merge.sh prints the unsharded report");
    assert_eq!(std::fs::read_to_string(out.join("merged.txt")).unwrap(), whole);
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("merged.json")).unwrap()).unwrap();
    assert_eq!(merged, json(&ksim(&["explore", "--json", &file]).output().unwrap()));
    // A failing task (a scenario that is not there) fails, so that
    // afterok holds the merge back, and leaves no report to merge.
    let mut vars = common.to_vec();
    vars[1].1 = out.join("missing.scn").to_string_lossy().into_owned();
    vars.push(("SLURM_ARRAY_TASK_ID", "0".into()));
    std::fs::remove_file(out.join("shard-0.json")).unwrap();
    let o = sh(&[&explore], &vars);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.join("shard-0.json").exists());
    // The README submits these two files with an array of 0..N-1.
    let readme = std::fs::read_to_string(repo().join("deploy/slurm/README.md")).unwrap();
    for needle in ["--array=0-$((N-1))", "deploy/slurm/explore.sh", "--dependency=afterok:", "deploy/slurm/merge.sh"] {
        assert!(readme.contains(needle), "deploy/slurm/README.md does not say `{needle}`");
    }
    let script = std::fs::read_to_string(&explore).unwrap();
    assert!(script.contains("#SBATCH --array=0-7") && script.contains("N=${N:-8}"), "explore.sh's defaults disagree");
    let _ = std::fs::remove_dir_all(&out);
}

/// The shell script a Job's container runs: the YAML block scalar after
/// `args:` / `- |`, dedented.
fn job_script(yaml: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "- |").skip(1);
    let first = lines.next().expect("a `- |` block");
    let indent = first.len() - first.trim_start().len();
    let mut s = format!("{}\n", &first[indent..]);
    for l in lines {
        if !l.trim().is_empty() && l.len() - l.trim_start().len() < indent {
            break;
        }
        s.push_str(l.get(indent..).unwrap_or(""));
        s.push('\n');
    }
    s
}

/// The value a manifest gives `key` (`key: VALUE`, a comment after it
/// dropped), the first time it appears.
fn manifest_value<'a>(yaml: &'a str, key: &str) -> &'a str {
    let line = yaml.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_else(|| panic!("no `{key}`"));
    line.split_once(':').unwrap().1.split('#').next().unwrap().trim().trim_matches('"')
}

#[test]
fn kubernetes_jobs_run_the_same_flow() {
    let dir = repo().join("deploy/kubernetes");
    let explore_yaml = std::fs::read_to_string(dir.join("explore-job.yaml")).unwrap();
    let merge_yaml = std::fs::read_to_string(dir.join("merge-job.yaml")).unwrap();
    // N is said three times in the explore Job and once in the merge Job.
    let n_line = |y: &str| {
        let i = y.find("- name: N").expect("an N variable");
        manifest_value(&y[i..], "value").to_string()
    };
    let n = n_line(&explore_yaml);
    assert_eq!(manifest_value(&explore_yaml, "completions:"), n);
    assert_eq!(manifest_value(&explore_yaml, "parallelism:"), n);
    assert_eq!(n_line(&merge_yaml), n);
    let n: u32 = n.parse().unwrap();
    // The scenario the manifest names ships in the image.
    let file_i = explore_yaml.find("- name: FILE").unwrap();
    let in_image = manifest_value(&explore_yaml[file_i..], "value");
    let shipped = in_image.strip_prefix("/ksim/").expect("FILE under the image's /ksim");
    assert!(repo().join(shipped).is_file(), "{shipped} is not in the repository");
    // The README's edits find what they replace.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    // (The README's sed writes the quotes escaped, inside double quotes.)
    let file_value = format!("value: {in_image}");
    for needle in ["image: ksim:latest", ": 8 # N", "value: \"8\"", &file_value] {
        let in_sed = needle.replace('"', "\\\"");
        assert!(readme.contains(&format!("s|{in_sed}|")), "README.md does not edit `{needle}`");
        assert!(explore_yaml.contains(needle), "explore-job.yaml has no `{needle}` for the README to edit");
    }
    for needle in ["image: ksim:latest", "value: \"8\""] {
        assert!(merge_yaml.contains(needle), "merge-job.yaml has no `{needle}` for the README to edit");
    }
    // Run the Jobs' scripts here, the repository's copy of the scenario
    // standing for the image's.
    let file = scenario(SCENARIOS[0].0);
    let out = scratch("kubernetes");
    let out_s = out.to_string_lossy().into_owned();
    let explore = job_script(&explore_yaml);
    let common = [("N", n.to_string()), ("FILE", file.clone()), ("OUT", out_s.clone()), ("PATH", path_with_ksim())];
    for i in 0..n {
        let mut vars = common.to_vec();
        vars.push(("JOB_COMPLETION_INDEX", i.to_string()));
        let o = sh(&["-c", &explore], &vars);
        assert_eq!(o.status.code(), Some(0), "pod {i}: {}", text(&o.stderr));
    }
    let o = sh(&["-c", &job_script(&merge_yaml)], &common);
    let (whole, code) = whole_text(&file);
    // The merge pod succeeds whatever the verdict; the verdict is in the
    // report and in merged.status.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), whole);
    let status = std::fs::read_to_string(out.join("merged.status")).unwrap();
    assert_eq!(status.trim().parse::<i32>().ok(), code);
    let _ = std::fs::remove_dir_all(&out);
}

/// The ```sh blocks of a Markdown file.
fn sh_blocks(md: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut lines = md.lines();
    while lines.by_ref().any(|l| l.trim() == "```sh") {
        blocks.push(lines.by_ref().take_while(|l| l.trim() != "```").collect());
    }
    blocks
}

#[test]
fn the_book_chapter_gives_the_readmes_commands() {
    let chapter = std::fs::read_to_string(repo().join("book/src/clusters.md")).unwrap();
    let blocks = sh_blocks(&chapter);
    assert_eq!(blocks.len(), 2, "book/src/clusters.md: one command block per engine");
    for (block, readme) in blocks.iter().zip(["deploy/kubernetes/README.md", "deploy/slurm/README.md"]) {
        let readme_text = std::fs::read_to_string(repo().join(readme)).unwrap();
        let readme_lines: Vec<&str> = sh_blocks(&readme_text).concat();
        // Every command (not a comment, not the line choosing the image)
        // is the README's, so the two cannot drift apart.
        let commands: Vec<&&str> =
            block.iter().filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with("IMAGE=")).collect();
        assert!(commands.len() >= 3, "book/src/clusters.md: three commands for {readme}");
        for line in commands {
            assert!(readme_lines.contains(line), "book/src/clusters.md runs `{line}`, which {readme} does not");
        }
    }
}
