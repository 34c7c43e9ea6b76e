//! The readable forms of attack results: one line as each finishes, and a markdown
//! table of all.

use std::fmt::Write as _;

use serde_json::Value;

fn mib(v: &Value) -> String {
    match v.as_f64() {
        Some(bytes) => format!("{:.1} MiB", bytes / (1024.0 * 1024.0)),
        None => "–".into(),
    }
}

fn verdict(v: &Value) -> &'static str {
    if v["ok"].as_bool() == Some(true) {
        "ok"
    } else {
        "**FAIL**"
    }
}

/// One line for an attack, printed as it finishes.
pub(crate) fn line(v: &Value) -> String {
    format!(
        "{:<20} {:<8} RSS {}, peak +{}, after leaving {}: {}",
        v["attack"].as_str().unwrap_or("?"),
        verdict(v),
        mib(&v["rss_before"]),
        mib(&v["peak_growth"]),
        mib(&v["growth_after"]),
        v["observed"].as_str().unwrap_or(""),
    )
}

/// The markdown table of `results`.
pub(crate) fn table(results: &[Value]) -> String {
    let mut out = String::from(
        "| attack | RSS before | peak growth | growth after leaving | observed | expected | result |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for v in results {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            v["attack"].as_str().unwrap_or("?"),
            mib(&v["rss_before"]),
            mib(&v["peak_growth"]),
            mib(&v["growth_after"]),
            v["observed"].as_str().unwrap_or("").replace('|', "\\|"),
            v["expect"].as_str().unwrap_or("").replace('|', "\\|"),
            verdict(v),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_show_mebibytes_and_the_verdict() {
        let v = json!({"attack": "huge-frame", "rss_before": 8_388_608u64, "peak_growth": 1_048_576u64,
            "growth_after": -524_288i64, "observed": "close 1009", "expect": "close 1009", "ok": true});
        let t = table(std::slice::from_ref(&v));
        assert!(
            t.contains("| `huge-frame` | 8.0 MiB | 1.0 MiB | -0.5 MiB | close 1009 |"),
            "{t}"
        );
        assert!(line(&v).contains("after leaving -0.5 MiB"), "{}", line(&v));
        assert!(table(&[json!({"attack": "x", "ok": false})]).contains("**FAIL**"));
    }
}
