//! One attack between readings of the server's memory: before, the peak while the
//! attacker is connected (sampled every 20 ms), and again once it has left and the
//! server had `settle` seconds to let go of what it held.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, sleep, timeout};

use super::{ATTACKS, Observed, Target, broadcast, frames, long_ids, polling};
use crate::rss::PeakRss;
use sockjs_bench::rss_bytes;

/// The most the server's RSS may grow while an attack runs.
pub(crate) const MAX_GROWTH: u64 = 64 << 20;
/// How long an attack may run beyond its duration (connecting, draining, reading
/// what the server left) before it is abandoned.
const OVERRUN: Duration = Duration::from_secs(90);

async fn attack(name: &str, t: &Target) -> Result<Observed, String> {
    match name {
        "xhr-stream-unread" => polling::xhr_stream_unread(t).await,
        "broadcast-unread-ws" => broadcast::unread_member(t).await,
        "amplify-unpolled" => polling::amplify_unpolled(t).await,
        "huge-frame" => frames::huge_frame(t).await,
        "fragmented-10mb" => frames::fragmented(t).await,
        "invalid-utf8" => frames::rule_broken(t, frames::Fault::InvalidUtf8).await,
        "unmasked-frame" => frames::rule_broken(t, frames::Fault::Unmasked).await,
        "reserved-opcode" => frames::rule_broken(t, frames::Fault::ReservedOpcode).await,
        "long-session-ids" => long_ids::long_session_ids(t).await,
        "stalled-peers" => broadcast::stalled_peers(t).await,
        other => Err(format!("unknown attack {other}")),
    }
}

/// Runs attack `name` and returns its JSON result.
pub(crate) async fn run(name: &str, t: &Target) -> Value {
    let expect = ATTACKS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, e)| *e);
    let before = match rss_bytes(&t.pid) {
        Ok(rss) => rss,
        Err(e) => {
            return json!({
                "attack": name,
                "expect": expect,
                "ok": false,
                "observed": format!("server pid {}: {e}", t.pid),
            });
        }
    };
    let peak = PeakRss::start(&t.pid);
    let t0 = Instant::now();
    let mut limit = t.duration + OVERRUN;
    if name == "stalled-peers" {
        limit += t.stall_wait;
    }
    let observed = match timeout(limit, attack(name, t)).await {
        Ok(Ok(observed)) => observed,
        Ok(Err(e)) => Observed {
            summary: format!("attack failed: {e}"),
            as_expected: false,
            details: Value::Null,
        },
        Err(_) => Observed {
            summary: format!("attack abandoned after {} s", limit.as_secs()),
            as_expected: false,
            details: Value::Null,
        },
    };
    let elapsed = t0.elapsed().as_secs_f64();
    let peak = peak.stop();
    sleep(t.settle).await;
    let after = rss_bytes(&t.pid).ok();
    let peak_growth = peak.saturating_sub(before);
    let alive = after.is_some();
    json!({
        "attack": name,
        "expect": expect,
        "rss_before": before,
        "rss_peak": peak,
        "peak_growth": peak_growth,
        "rss_after": after,
        "growth_after": after.map(|a| a as i64 - before as i64),
        "settle_s": t.settle.as_secs_f64(),
        "duration_s": elapsed,
        "observed": observed.summary,
        "as_expected": observed.as_expected,
        "server_alive": alive,
        "ok": alive && peak_growth < MAX_GROWTH && observed.as_expected,
        "details": observed.details,
    })
}
