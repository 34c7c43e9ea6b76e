//! `sockjs-bench fleet`: the processes of `scripts/scale`, which opens 100,000
//! SockJS sessions on `/broadcast` across several `test_server` instances sharing
//! one Redis, publishes through them, and checks that every session gets every
//! message once.
//!
//! ```text
//! sockjs-bench fleet load --addrs 127.0.0.1:P[,127.0.0.1:P..] [--first N]
//!                         [--websocket N] [--xhr-streaming N] [--xhr-polling N]
//!                         [--connects 200] [--open-timeout 120] [--drain 15]
//!                         [--end 3600] [--label NAME]
//! sockjs-bench fleet publish --addr 127.0.0.1:P [--messages 120] [--interval-ms 500]
//!                            [--size 100]
//! sockjs-bench fleet summary FILE
//! ```
//!
//! - `load` ([`load`]): one load process: opens its sessions, reports, counts
//!   deliveries until `finish COUNT` on stdin, reports;
//! - `publish` ([`publish`]): the one publishing session;
//! - `summary` ([`summary`]): the table of a run, from every process's JSON lines.
//!
//! One thread each (a `LocalSet`: the sessions of a process share their counts in
//! `Cell`s); a process holds one socket per session, so it stays under its open-file
//! limit by holding fewer sessions than that.

mod counts;
mod load;
mod message;
mod publish;
mod session;
mod summary;
mod tally;

const USAGE: &str = "usage:
  sockjs-bench fleet load --addrs 127.0.0.1:P[,..] [--first N] [--websocket N]
                          [--xhr-streaming N] [--xhr-polling N] [--connects 200]
                          [--open-timeout SECS] [--drain SECS] [--end SECS] [--label NAME]
  sockjs-bench fleet publish --addr 127.0.0.1:P [--messages 120] [--interval-ms 500] [--size 100]
  sockjs-bench fleet summary FILE";

/// Runs `fleet`'s subcommand; Ok(false) when the run it measured failed.
pub(crate) fn main(args: &[String]) -> Result<bool, String> {
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("load") => load::main(&load::parse(rest)?),
        Some("publish") => publish::main(&publish::parse(rest)?),
        Some("summary") => summary::main(rest),
        _ => Err(USAGE.into()),
    }
}
