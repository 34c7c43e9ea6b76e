//! The client side of SockJS the scenarios and attacks share: unique session URLs,
//! reading frames, and the HTTP transports' requests.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::time::Instant;

use crate::net::Http;

/// A unique session path: this process's run id and a counter (sessions of
/// earlier runs linger on the server until they expire).
pub(crate) fn session_path(prefix: &str, client: usize, transport: &str) -> String {
    static RUN: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let run = RUN.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
            % 1_000_000_000
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}/{:03}/{run}-{n}/{transport}", client % 1000)
}

/// The items of an `a["...","..."]` frame, for messages free of `"` and `\`.
pub(crate) fn sockjs_items(frame: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let inner = frame.strip_prefix(b"a[\"")?.strip_suffix(b"\"]")?;
    Some(inner.split(|&b| b == b'"').step_by(2))
}

/// The items of an `a["...","..."]` frame as they are written in it (JSON strings
/// without their quotes, escapes left escaped), for any messages.
pub(crate) fn sockjs_escaped_items(frame: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let mut rest = frame.strip_prefix(b"a[")?.strip_suffix(b"]")?;
    Some(std::iter::from_fn(move || {
        let item = rest
            .strip_prefix(b",")
            .unwrap_or(rest)
            .strip_prefix(b"\"")?;
        // The closing quote: the first not escaped (not after an odd number of
        // backslashes).
        let mut from = 0;
        let end = loop {
            let at = from + item.get(from..)?.iter().position(|&b| b == b'"')?;
            let backslashes = item[..at].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                break at;
            }
            from = at + 1;
        };
        rest = &item[end + 1..];
        Some(&item[..end])
    }))
}

/// Counts the messages in one SockJS frame: `a[...]` carries some, `o` and `h` none,
/// `c[...]` ends the session.
pub(crate) fn sockjs_count(frame: &[u8]) -> io::Result<usize> {
    match frame.first() {
        Some(b'a') => sockjs_items(frame)
            .map(Iterator::count)
            .ok_or_else(|| bad_frame(frame)),
        Some(b'o' | b'h') => Ok(0),
        _ => Err(bad_frame(frame)),
    }
}

/// An error naming a frame that does not belong where it came.
pub(crate) fn bad_frame(frame: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected frame {:?}", shown(frame)),
    )
}

/// The error of a connection the server closed.
pub(crate) fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "closed by the server")
}

/// Opens an xhr session (`xhr` answers `o`).
pub(crate) async fn xhr_open(http: &mut Http, base: &str, deadline: Instant) -> io::Result<()> {
    http.post(&format!("{base}/xhr"), b"", deadline).await?;
    match http.response(deadline).await? {
        (200, b"o\n") => Ok(()),
        (status, body) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("open: {status} {:?}", String::from_utf8_lossy(body)),
        )),
    }
}

/// `xhr_send` of one body; expects 204.
pub(crate) async fn xhr_send(
    http: &mut Http,
    base: &str,
    body: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    http.post(&format!("{base}/xhr_send"), body, deadline)
        .await?;
    match http.response(deadline).await? {
        (204, _) => Ok(()),
        (status, body) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("xhr_send: {status} {:?}", String::from_utf8_lossy(body)),
        )),
    }
}

/// A unique session URL without its transport: `PREFIX/SERVER/SESSION`.
pub(crate) fn session_base(prefix: &str, client: usize) -> String {
    let path = session_path(prefix, client, "");
    path.trim_end_matches('/').to_owned()
}

/// Starts a streaming response (`path` is an `xhr_streaming` URL or `/bare-stream`)
/// and reads its prelude.
pub(crate) async fn xhr_stream_start(
    http: &mut Http,
    path: &str,
    deadline: Instant,
) -> io::Result<()> {
    http.post(path, b"", deadline).await?;
    let head = http.head(deadline).await?;
    if head.status != 200 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("xhr_streaming: {}", head.status),
        ));
    }
    match http.chunk(deadline).await? {
        Some(prelude) if prelude.len() == 2049 => Ok(()),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "no prelude")),
    }
}

/// The code of a close frame `c[CODE,"reason"]` (a trailing newline allowed).
pub(crate) fn close_code(frame: &[u8]) -> Option<u16> {
    let rest = frame.strip_prefix(b"c[")?;
    let end = rest.iter().position(|&b| b == b',')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// The first close frame (`c[...]`) in the text of a streaming chunk or polling
/// response, which may hold several newline-ended frames.
pub(crate) fn find_close(text: &[u8]) -> Option<&[u8]> {
    text.split(|&b| b == b'\n')
        .find(|frame| frame.starts_with(b"c["))
}

/// Up to 80 characters of `bytes`, for a report.
pub(crate) fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockjs_frames_are_counted() {
        assert_eq!(sockjs_count(br#"a["x"]"#).ok(), Some(1));
        assert_eq!(sockjs_count(br#"a["x","y","z"]"#).ok(), Some(3));
        assert_eq!(sockjs_count(b"h").ok(), Some(0));
        assert!(sockjs_count(br#"c[3000,"Go away!"]"#).is_err());
        let items: Vec<&[u8]> = sockjs_items(br#"a["1:2:x","3:4:x"]"#)
            .expect("items")
            .collect();
        assert_eq!(items, vec![&b"1:2:x"[..], &b"3:4:x"[..]]);
    }

    #[test]
    fn escaped_items_are_split_at_their_closing_quotes() {
        let frame = br#"a["{\"a\":1}","x\\","\\\"q\""]"#;
        let items: Vec<&[u8]> = sockjs_escaped_items(frame).expect("items").collect();
        assert_eq!(
            items,
            vec![&br#"{\"a\":1}"#[..], &br#"x\\"#[..], &br#"\\\"q\""#[..]]
        );
        assert!(sockjs_escaped_items(b"o").is_none());
        assert_eq!(
            sockjs_escaped_items(br#"a["unterminated]"#).map(Iterator::count),
            Some(0)
        );
    }

    #[test]
    fn close_frames_give_their_code() {
        assert_eq!(close_code(b"c[1013,\"Slow consumer\"]\n"), Some(1013));
        assert_eq!(close_code(b"a[\"c[1\"]"), None);
        let text = b"a[\"x\"]\nc[2010,\"Another connection still open\"]\n";
        assert_eq!(find_close(text).and_then(close_code), Some(2010));
        assert_eq!(find_close(b"o\nh\n"), None);
    }
}
