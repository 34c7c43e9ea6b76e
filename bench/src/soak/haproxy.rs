//! The soak's version of the committed `deploy/haproxy.cfg`, changed as little as
//! tests/it/common/deploy.rs changes it, plus one line:
//!
//! - the front and instance addresses replaced by this run's;
//! - in `global`, `chroot`, `user`, `group`, `daemon` and `maxconn` dropped (haproxy
//!   runs as a foreground child, and derives its connection limit from the file
//!   limit), and the syslog target replaced by stderr at level `notice` (server
//!   up/down, not a line per request);
//! - in the backend, `http-response set-header X-Served-By %[srv_name]`: every
//!   answer names the instance that gave it, so the soak knows which instance
//!   holds each session.

use std::io;

/// The configuration for a front on `front` and instances on `instances` (two).
pub(crate) fn config(committed: &str, front: u16, instances: &[u16]) -> io::Result<String> {
    let [first, second] = instances else {
        return Err(io::Error::other("the committed config has two instances"));
    };
    let mut conf = committed.to_owned();
    for (from, to) in [(8080, front), (8081, *first), (8082, *second)] {
        let from = format!("127.0.0.1:{from}");
        if !conf.contains(&from) {
            return Err(io::Error::other(format!(
                "deploy/haproxy.cfg no longer uses {from}"
            )));
        }
        conf = conf.replace(&from, &format!("127.0.0.1:{to}"));
    }
    let mut out = String::new();
    let mut section = "";
    let mut dropped = 0;
    let mut marked = false;
    for line in conf.lines() {
        let indented = line.starts_with(char::is_whitespace);
        if !indented && !line.starts_with('#') && !line.trim().is_empty() {
            section = line.split_whitespace().next().unwrap_or("");
        }
        let keyword = line.split_whitespace().next().unwrap_or("");
        if section == "global" && indented {
            match keyword {
                "chroot" | "user" | "group" | "daemon" | "maxconn" => {
                    dropped += 1;
                    continue;
                }
                "log" => {
                    dropped += 1;
                    out.push_str("    log stderr format raw local0 notice\n");
                    continue;
                }
                _ => {}
            }
        }
        if section == "backend" && keyword == "server" && !marked {
            out.push_str("    http-response set-header X-Served-By %[srv_name]\n");
            marked = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    if dropped != 6 || !marked {
        return Err(io::Error::other(
            "deploy/haproxy.cfg changed shape: update bench/src/soak/haproxy.rs",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_config_gets_this_runs_addresses_and_names_its_servers() {
        let committed = include_str!("../../../deploy/haproxy.cfg");
        let cfg = config(committed, 9000, &[9001, 9002]).expect("config");
        assert!(cfg.contains("bind 127.0.0.1:9000"));
        assert!(cfg.contains("server instance1 127.0.0.1:9001"));
        assert!(cfg.contains("server instance2 127.0.0.1:9002"));
        assert!(cfg.contains("X-Served-By %[srv_name]"));
        assert!(!cfg.contains("daemon") && !cfg.contains("chroot"));
    }
}
