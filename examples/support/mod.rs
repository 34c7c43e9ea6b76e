//! What the demo examples (chat, multiplex) share: pages with the client's url filled
//! in, the browser scripts npm installed into `vendor-js/`, and the `--port` flag.

use std::path::PathBuf;

use actix_web::{HttpResponse, Route, web};

/// A file npm installed under `vendor-js/node_modules/`, if it is there
/// (`./scripts/demo` installs sockjs-client and websocket-multiplex).
pub(crate) fn vendor_file(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vendor-js/node_modules")
        .join(path);
    path.is_file().then_some(path)
}

/// A GET route serving `html` with `{{SOCKJS_URL}}` replaced.
pub(crate) fn page(html: &'static str, sockjs_url: &str) -> Route {
    let body = html.replace("{{SOCKJS_URL}}", sockjs_url);
    web::get().to(move || {
        std::future::ready(
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(body.clone()),
        )
    })
}

/// A GET route serving a script read at start-up, or 404 when there is none.
pub(crate) fn script(body: Option<Vec<u8>>) -> Route {
    web::get().to(move || {
        std::future::ready(match &body {
            Some(js) => HttpResponse::Ok()
                .content_type("application/javascript; charset=utf-8")
                .body(js.clone()),
            None => HttpResponse::NotFound().finish(),
        })
    })
}

/// The demos' flags.
pub(crate) struct DemoArgs {
    /// `--port N` (default 8080; 0 picks a free port).
    pub(crate) port: u16,
    /// `--redis URL`, where the demo takes it.
    pub(crate) redis: Option<String>,
}

/// `--port N`, and `--redis URL` when `redis` is true; nothing else is accepted.
pub(crate) fn parse_args(example: &str, redis: bool) -> std::io::Result<DemoArgs> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let usage = if redis {
        "[--port N] [--redis redis://HOST:PORT]"
    } else {
        "[--port N]"
    };
    let mut parsed = DemoArgs {
        port: 8080,
        redis: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| invalid(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" => {
                parsed.port = value()?
                    .parse()
                    .map_err(|e| invalid(format!("--port: {e}")))?;
            }
            "--redis" if redis => parsed.redis = Some(value()?),
            other => {
                return Err(invalid(format!(
                    "unknown argument {other}; usage: {example} {usage}"
                )));
            }
        }
    }
    Ok(parsed)
}

/// Ends the process with one line that says what to do when 127.0.0.1:`port` could
/// not be bound (instead of an `AddrInUse` debug print).
pub(crate) fn explain_bind_error(e: std::io::Error, example: &str, port: u16) -> ! {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        let other = port.checked_add(1).unwrap_or(8090);
        eprintln!(
            "port {port} is in use (another demo still running?): pick another with --port N, \
             e.g. `./scripts/demo --port {other}` or `cargo run --example {example} -- --port {other}`"
        );
    } else {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
    }
    std::process::exit(1);
}
