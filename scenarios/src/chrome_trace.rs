//! `--trace OUT.json` of `ksim run` and `ksim replay`: one execution as
//! Chrome trace-event JSON (the "JSON Object Format" of the Trace Event
//! Format document), which Perfetto (ui.perfetto.dev) and chrome://tracing
//! open.
//!
//! Layout:
//! - process 1 (`pid` 1) is the simulated kernel's actors: one track
//!   (`tid`) per executor actor, `tid` = executor id + 1 (setup is 1, the
//!   scenario's actors follow in file order, then `finally`), named by
//!   `thread_name` metadata and ordered by `thread_sort_index`;
//! - process 2 is reserved for the hardware model (sim-hw): one track per
//!   hardware unit, when there is one.
//!
//! Events:
//! - every call is a complete event (`"ph": "X"`, category `call`) named
//!   after the call, with `args` holding the call text, its line, the
//!   evaluated arguments and the result;
//! - a wait inside a call is a nested complete event (category `wait`)
//!   from the moment the actor blocks to its wake-up;
//! - named yield points and wake-ups are thread-scoped instant events
//!   (`"ph": "i"`, `"s": "t"`; categories `yield_point` and `wakeup`).
//!
//! Time: `ts` and `dur` are in microseconds, as the format requires.
//! ksim's virtual clock stands still while actors run (it advances only
//! when every actor waits for a deadline), so most events share one
//! virtual instant. To show their order, event number `i` of the
//! execution is placed at `virtual_ns + i` nanoseconds: the trace's time
//! is the virtual time plus one nanosecond per event, and each event's
//! `args.virtual_ns` keeps the exact virtual time.
//!
//! The runner records [`TraceEvent`]s through [`call_begin`] and
//! [`call_end`] (its two hooks) and the executor's events; [`to_json`]
//! turns them into the file.

use crate::lang::ir::Program;
use crate::runner::Execution;
use crate::value::Value;
use serde_json::{json, Map, Value as Json};
use sim_kernel::sched::exec::ExecEvent;
use sim_kernel::sched::{self, ActorId};
use std::cell::RefCell;

/// The pid of the kernel's actor tracks.
pub const PID_ACTORS: u64 = 1;
/// The pid reserved for hardware units' tracks.
pub const PID_HARDWARE: u64 = 2;

/// One thing that happened, in execution order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// An actor starts a call (after its scheduling point).
    CallBegin { actor: ActorId, t: u64, line: u32, text: String, args: Vec<String>, named: Vec<(String, String)> },
    /// The call returned `result`.
    CallEnd { actor: ActorId, t: u64, result: String },
    /// A scheduler event (blocking, wake-up, yield point).
    Sched(ExecEvent),
}

/// Runner hook: `actor` starts the call at `line`.
pub fn call_begin(
    sink: Option<&RefCell<Vec<TraceEvent>>>,
    actor: ActorId,
    line: u32,
    text: &str,
    args: &[Value],
    named: &[(&str, Value)],
) {
    if let Some(s) = sink {
        s.borrow_mut().push(TraceEvent::CallBegin {
            actor,
            t: sched::now_ns(),
            line,
            text: text.to_string(),
            args: args.iter().map(|v| v.to_string()).collect(),
            named: named.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        });
    }
}

/// Runner hook: `actor`'s call returned `result`.
pub fn call_end(sink: Option<&RefCell<Vec<TraceEvent>>>, actor: ActorId, result: &Value) {
    if let Some(s) = sink {
        s.borrow_mut().push(TraceEvent::CallEnd { actor, t: sched::now_ns(), result: result.to_string() });
    }
}

/// Microseconds with nanosecond precision, as a JSON number.
fn us(ns: u64) -> Json {
    // Exact decimal text, not a binary float: `12.345`.
    let text = format!("{}.{:03}", ns / 1000, ns % 1000);
    serde_json::from_str(&text).unwrap_or(Json::from(ns / 1000))
}

fn tid(actor: ActorId) -> u64 {
    actor as u64 + 1
}

/// The names of the executor's actors, by executor id.
fn actor_names(prog: &Program) -> Vec<String> {
    let mut names = vec!["setup".to_string()];
    names.extend(prog.actors.iter().map(|a| a.name.clone()));
    names.push("finally".to_string());
    names
}

/// The call's name: its text up to the opening parenthesis.
fn call_name(text: &str) -> &str {
    text.split('(').next().unwrap_or(text).trim()
}

/// The Chrome trace-event JSON of one execution.
pub fn to_json(path: &str, prog: &Program, ex: &Execution) -> String {
    let names = actor_names(prog);
    let title = prog.title.as_deref().map_or(path.to_string(), |t| format!("{t} ({path})"));
    // (trace time in ns, tie-break, event)
    let mut out: Vec<(u64, u64, Json)> = Vec::new();
    let mut open_calls: Vec<Option<(u64, u64, &TraceEvent)>> = vec![None; names.len()];
    let mut open_waits: Vec<Option<(u64, u64, String)>> = vec![None; names.len()];
    let evs = &ex.trace_events;
    let at = |i: usize, t: u64| t + i as u64;
    let end_ns = evs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            at(
                i,
                match e {
                    TraceEvent::CallBegin { t, .. } | TraceEvent::CallEnd { t, .. } => *t,
                    TraceEvent::Sched(
                        ExecEvent::Blocked { t, .. } | ExecEvent::Woken { t, .. } | ExecEvent::Yield { t, .. },
                    ) => *t,
                },
            )
        })
        .max()
        .unwrap_or(0)
        + 1;
    let close_call =
        |out: &mut Vec<(u64, u64, Json)>, b: (u64, u64, &TraceEvent), end: u64, t_end: u64, result: &str| {
            let (start, vt, ev) = b;
            if let TraceEvent::CallBegin { actor, line, text, args, named, .. } = ev {
                let named: Map<String, Json> = named.iter().map(|(k, v)| (k.clone(), Json::from(v.as_str()))).collect();
                out.push((
                    start,
                    u64::MAX - (end - start),
                    json!({
                        "name": call_name(text), "cat": "call", "ph": "X",
                        "ts": us(start), "dur": us(end - start),
                        "pid": PID_ACTORS, "tid": tid(*actor),
                        "args": {
                            "call": text, "line": line, "args": args, "named": named, "result": result,
                            "virtual_ns": vt, "virtual_ns_end": t_end,
                        }
                    }),
                ));
            }
        };
    for (i, e) in evs.iter().enumerate() {
        match e {
            TraceEvent::CallBegin { actor, t, .. } => {
                if let Some(slot) = open_calls.get_mut(*actor) {
                    *slot = Some((at(i, *t), *t, e));
                }
            }
            TraceEvent::CallEnd { actor, t, result } => {
                if let Some(b) = open_calls.get_mut(*actor).and_then(Option::take) {
                    close_call(&mut out, b, at(i, *t), *t, result);
                }
            }
            TraceEvent::Sched(ExecEvent::Blocked { actor, on, t }) => {
                let what = if on.obj != 0 { format!("{} #{}", on.what, on.obj) } else { on.what.to_string() };
                if let Some(slot) = open_waits.get_mut(*actor) {
                    *slot = Some((at(i, *t), *t, what));
                }
            }
            TraceEvent::Sched(ExecEvent::Woken { actor, why, t }) => {
                if let Some((start, vt, what)) = open_waits.get_mut(*actor).and_then(Option::take) {
                    let end = at(i, *t);
                    out.push((
                        start,
                        u64::MAX - (end - start),
                        json!({
                            "name": format!("wait: {what}"), "cat": "wait", "ph": "X",
                            "ts": us(start), "dur": us(end - start),
                            "pid": PID_ACTORS, "tid": tid(*actor),
                            "args": { "on": what, "virtual_ns": vt, "virtual_ns_end": t, "woken_by": format!("{why:?}") }
                        }),
                    ));
                }
                out.push((
                    at(i, *t),
                    0,
                    json!({
                        "name": format!("{why:?}"), "cat": "wakeup", "ph": "i", "s": "t",
                        "ts": us(at(i, *t)), "pid": PID_ACTORS, "tid": tid(*actor),
                        "args": { "virtual_ns": t }
                    }),
                ));
            }
            TraceEvent::Sched(ExecEvent::Yield { actor, label, t }) => {
                out.push((
                    at(i, *t),
                    0,
                    json!({
                        "name": label, "cat": "yield_point", "ph": "i", "s": "t",
                        "ts": us(at(i, *t)), "pid": PID_ACTORS, "tid": tid(*actor),
                        "args": { "virtual_ns": t }
                    }),
                ));
            }
        }
    }
    // Calls and waits that never returned (killed at teardown, or the
    // execution stopped at a failure) end with the trace.
    for (a, w) in open_waits.iter_mut().enumerate() {
        if let Some((start, vt, what)) = w.take() {
            out.push((
                start,
                u64::MAX - (end_ns - start),
                json!({
                    "name": format!("wait: {what}"), "cat": "wait", "ph": "X",
                    "ts": us(start), "dur": us(end_ns - start), "pid": PID_ACTORS, "tid": tid(a),
                    "args": { "on": what, "virtual_ns": vt, "woken_by": "never" }
                }),
            ));
        }
    }
    for c in open_calls.iter_mut() {
        if let Some(b) = c.take() {
            close_call(
                &mut out,
                b,
                end_ns,
                ex.virtual_ns,
                "(did not return: killed at teardown or the execution stopped)",
            );
        }
    }
    // Outer spans first at equal start (longer duration first).
    out.sort_by_key(|(ts, tie, _)| (*ts, *tie));
    let mut events: Vec<Json> = vec![json!({
        "name": "process_name", "ph": "M", "pid": PID_ACTORS, "tid": 0, "args": { "name": format!("ksim: {title}") }
    })];
    for (id, name) in names.iter().enumerate() {
        if id == names.len() - 1 && prog.finally.is_empty() {
            continue;
        }
        events
            .push(json!({"name": "thread_name", "ph": "M", "pid": PID_ACTORS, "tid": tid(id), "args": {"name": name}}));
        events.push(
            json!({"name": "thread_sort_index", "ph": "M", "pid": PID_ACTORS, "tid": tid(id), "args": {"sort_index": id}}),
        );
    }
    events.extend(out.into_iter().map(|(_, _, e)| e));
    let doc = json!({
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "file": path,
            "schedule": sim_kernel::sched::choose::format_schedule(&ex.schedule),
            "virtual_ns": ex.virtual_ns,
            "time": "ts = virtual ns + event number (1 ns per event), in microseconds; args.virtual_ns is exact",
        }
    });
    // One event per line: readable, and diffable between two runs.
    let mut s = String::from("{\"traceEvents\":[\n");
    if let Some(Json::Array(evs)) = doc.get("traceEvents") {
        for (i, e) in evs.iter().enumerate() {
            s.push_str(&e.to_string());
            s.push_str(if i + 1 < evs.len() { ",\n" } else { "\n" });
        }
    }
    s.push_str("],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":");
    s.push_str(&doc["otherData"].to_string());
    s.push_str("}\n");
    s
}
