//! The table's medians, ratios and verdicts.

use super::*;
use serde_json::json;

/// The row of `scenario` in `table`.
fn row<'a>(table: &'a str, scenario: &str) -> &'a str {
    let start = format!("| `{scenario}`");
    table
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no {scenario} row in {table}"))
}

#[test]
fn medians_and_thousands() {
    assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(vec![]), None);
    assert_eq!(thousands(1_234_567.4), "1,234,567");
    assert_eq!(thousands(999.0), "999");
}

#[test]
fn stuck_is_a_memory_row_held_to_the_bound() {
    let lines = vec![
        json!({"scenario": "stuck", "bytes_per_stuck_session": 500_000.0, "errors": 0}),
        json!({"scenario": "stuck", "bytes_per_stuck_session": 400_000.0, "errors": 0}),
    ];
    let t = table(&lines);
    let row = row(&t, "stuck");
    assert!(
        row.contains("| 450,000 B/stuck session | – |")
            && row.contains("≤ 1,310,720 B/stuck session")
            && row.contains("**PASS**"),
        "{row}"
    );
    let over = table(&[json!({"scenario": "stuck", "bytes_per_stuck_session": 2e6, "errors": 0})]);
    assert!(over.contains("**MISS**"), "{over}");
}

#[test]
fn stuck_addr_is_held_to_the_same_bound() {
    let lines = vec![
        json!({"scenario": "stuck-addr", "bytes_per_stuck_session": 1_200_000.0, "errors": 0}),
        json!({"scenario": "stuck", "bytes_per_stuck_session": 400_000.0, "errors": 0}),
    ];
    let t = table(&lines);
    let row = row(&t, "stuck-addr");
    assert!(
        row.contains("| 1,200,000 B/stuck session | – |")
            && row.contains("≤ 1,310,720 B/stuck session")
            && row.contains("**PASS**"),
        "{row}"
    );
    let over =
        table(&[json!({"scenario": "stuck-addr", "bytes_per_stuck_session": 3e6, "errors": 0})]);
    assert!(over.contains("**MISS**"), "{over}");
}

#[test]
fn ratios_are_taken_per_server_cpu_second() {
    let lines = vec![
        json!({"scenario": "bare-echo", "rate": 100.0, "per_server_cpu_s": 200.0, "errors": 0}),
        json!({"scenario": "ws-echo", "rate": 50.0, "per_server_cpu_s": 190.0, "errors": 0}),
        json!({"scenario": "raw-ws-echo", "rate": 99.0, "per_server_cpu_s": 180.0, "errors": 0}),
    ];
    let t = table(&lines);
    let ws = row(&t, "ws-echo");
    assert!(ws.contains("| 0.95 |") && ws.contains("**PASS**"), "{ws}");
    let raw = row(&t, "raw-ws-echo");
    assert!(
        raw.contains("| 0.90 |") && raw.contains("**MISS**"),
        "{raw}"
    );
}

#[test]
fn broadcast_redis_is_compared_with_broadcast_and_shows_remote_latency() {
    let lines = vec![
        json!({"scenario": "broadcast", "rate": 900.0, "per_server_cpu_s": 1000.0, "errors": 0}),
        json!({"scenario": "broadcast-redis", "rate": 300.0, "per_server_cpu_s": 500.0,
               "p50_us": 800.0, "p99_us": 2500.0, "remote_p50_us": 1200.0,
               "remote_p99_us": 3000.0, "errors": 0}),
    ];
    let t = table(&lines);
    let row = row(&t, "broadcast-redis");
    assert!(
        row.contains("| 0.50 |")
            && row.contains("800 µs / 2.5 ms (remote 1.2 ms / 3.0 ms)")
            && row.ends_with("| – | info |"),
        "{row}"
    );
}

#[test]
fn idle_sessions_are_held_to_a_kilobyte_above_their_bare_floor() {
    let lines = vec![
        json!({"scenario": "idle-bare", "bytes_per_session": 11_000.0,
               "heap_bytes_per_session": 18_700.0, "errors": 0}),
        json!({"scenario": "idle-ws", "bytes_per_session": 12_000.0,
               "heap_bytes_per_session": 19_400.0, "errors": 0}),
        json!({"scenario": "idle-bare-stream", "bytes_per_session": 12_000.0, "errors": 0}),
        json!({"scenario": "idle-xhr-streaming", "bytes_per_session": 13_100.0, "errors": 0}),
    ];
    let t = table(&lines);
    let ws = row(&t, "idle-ws");
    assert!(
        ws.contains("≤ `idle-bare` + 1,024 B/session (here + 1,000; heap + 700)")
            && ws.contains("**PASS**"),
        "{ws}"
    );
    let xhr = row(&t, "idle-xhr-streaming");
    assert!(
        xhr.contains("(here + 1,100)") && xhr.contains("**MISS**"),
        "{xhr}"
    );
}

#[test]
fn broadcast_deflate_is_held_to_rate_and_wire_bytes_of_broadcast_200() {
    let base = json!({"scenario": "broadcast-200", "rate": 800.0, "per_server_cpu_s": 1000.0,
                      "wire_bytes_per_op": 230.0, "compressed_share": 0.0, "errors": 0});
    let row_of = |per_cpu: f64, wire: f64| {
        let lines = vec![
            base.clone(),
            json!({"scenario": "broadcast-deflate", "rate": 700.0, "per_server_cpu_s": per_cpu,
                   "wire_bytes_per_op": wire, "compressed_share": 1.0, "errors": 0}),
        ];
        let t = table(&lines);
        row(&t, "broadcast-deflate").to_owned()
    };
    let pass = row_of(800.0, 115.0);
    assert!(
        pass.contains("| 115 (100 % compressed) |")
            && pass.contains("| 0.80 |")
            && pass.contains("(here 50 %)")
            && pass.contains("**PASS**"),
        "{pass}"
    );
    assert!(row_of(600.0, 100.0).contains("**MISS**"));
    assert!(row_of(900.0, 120.0).contains("**MISS**"));
    let t = table(&[base]);
    let plain = row(&t, "broadcast-200");
    assert!(plain.contains("| 230 |"), "{plain}");
}

#[test]
fn idle_deflate_sessions_are_held_to_two_kilobytes_above_idle_ws() {
    let lines = vec![
        json!({"scenario": "idle-ws", "bytes_per_session": 12_000.0, "errors": 0}),
        json!({"scenario": "idle-ws-deflate", "bytes_per_session": 13_500.0, "errors": 0}),
    ];
    let t = table(&lines);
    let row = row(&t, "idle-ws-deflate");
    assert!(
        row.contains("≤ `idle-ws` + 2,048 B/session (here + 1,500)") && row.contains("**PASS**"),
        "{row}"
    );
}
