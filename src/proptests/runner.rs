//! Runs one property with the suite's settings, and counts its cases.
//!
//! Shared by the crate's own property tests (`src/proptests/`) and the integration
//! tests of the public API (`tests/prop_protocol.rs` includes this file by path), so
//! both honour the same variables:
//!
//! - `PROPTEST_CASES`: cases per property (default: each property's own, at most
//!   proptest's 256). proptest reads it only into `Config::default()`, and an explicit
//!   case count such as `Config::with_cases` overrides it, so it is read here.
//! - `PROPTEST_RNG_SEED` and the other `PROPTEST_*` variables: as proptest documents.
//!
//! No failure is persisted to a file (the source tree stays clean): a failing run
//! prints the minimal failing input instead. Each property that passes prints
//! `proptest NAME: N cases` (seen with `--nocapture`), N counted as the cases that
//! ran and passed, and with `SOCKJS_PROPTEST_COUNTS=FILE` also appends the line
//! `NAME N` to FILE, which `scripts/fuzz` adds up (a file, because lines printed by
//! tests running in parallel may be cut by the test harness's own output).

use std::cell::Cell;
use std::fmt::Debug;
use std::io::Write;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// The configuration of a property whose own case count is `default_cases`.
pub(crate) fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Checks `property` on `cases` values of `strategy` (see [`config`]); panics with
/// the minimal failing input if it fails or panics for one of them.
pub(crate) fn check<S>(
    name: &str,
    default_cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let mut runner = TestRunner::new(config(default_cases));
    let passed = Cell::new(0u64);
    let result = runner.run(&strategy, |value| {
        property(value)?;
        passed.set(passed.get() + 1);
        Ok(())
    });
    match result {
        Ok(()) => {
            println!("proptest {name}: {} cases", passed.get());
            record(name, passed.get());
        }
        Err(TestError::Fail(reason, value)) => {
            panic!("property {name} failed: {reason}\nminimal failing input: {value:?}")
        }
        Err(TestError::Abort(reason)) => panic!("property {name} aborted: {reason}"),
    }
}

/// Appends `NAME N` to the file `SOCKJS_PROPTEST_COUNTS` names, if it is set; one
/// write of one short line to a file opened for appending, so lines of properties
/// running at once do not mix.
fn record(name: &str, cases: u64) {
    let Some(path) = std::env::var_os("SOCKJS_PROPTEST_COUNTS") else {
        return;
    };
    let line = format!("{name} {cases}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("cannot record the case count of {name} in {path:?}: {e}");
    }
}
