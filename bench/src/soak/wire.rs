//! The HTTP transports as a client speaks them, reduced to one stream of SockJS
//! frames: xhr polling and jsonp polling (a request per frame), xhr_streaming,
//! eventsource and htmlfile (a response of many frames, then a new request once the
//! server ends it at `response_limit`). Each runs as a task of its own that owns its
//! connection and reports to the session's task; the session ends it by aborting it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::net::Http;

/// How long a request may wait for its answer: longer than a heartbeat (25 s).
const POLL_WAIT: Duration = Duration::from_secs(60);
/// How an `End` report that HAProxy sent a request of the session to another
/// instance starts.
pub(crate) const MOVED: &str = "moved:";
/// The callback name of htmlfile and jsonp.
const CALLBACK: &str = "cb";

/// The transports a non-browser client can speak besides the websocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HttpTransport {
    Xhr,
    XhrStreaming,
    EventSource,
    HtmlFile,
    Jsonp,
}

impl HttpTransport {
    /// The transport's name in the URL.
    pub(crate) fn name(self) -> &'static str {
        match self {
            HttpTransport::Xhr => "xhr",
            HttpTransport::XhrStreaming => "xhr_streaming",
            HttpTransport::EventSource => "eventsource",
            HttpTransport::HtmlFile => "htmlfile",
            HttpTransport::Jsonp => "jsonp",
        }
    }

    /// The URL that receives, under the session's `base`.
    fn url(self, base: &str) -> String {
        match self {
            HttpTransport::HtmlFile | HttpTransport::Jsonp => {
                format!("{base}/{}?c={CALLBACK}", self.name())
            }
            _ => format!("{base}/{}", self.name()),
        }
    }

    /// Whether a response carries many frames.
    fn streams(self) -> bool {
        !matches!(self, HttpTransport::Xhr | HttpTransport::Jsonp)
    }
}

/// What a receiver reports.
#[derive(Debug)]
pub(crate) enum Wire {
    /// The session is open (`o`) on the instance HAProxy named.
    Opened(Option<String>),
    /// A frame after the open one.
    Frame(String),
    /// The receiver stopped: the session is over as far as it can tell.
    End(String),
}

/// Receives the session at `base` (`/PREFIX/SERVER/SESSION`) through `front` until it
/// fails; reports to `tx`.
pub(crate) async fn receive(
    front: SocketAddr,
    base: String,
    transport: HttpTransport,
    tx: UnboundedSender<Wire>,
) {
    let why = match run(front, &base, transport, &tx).await {
        Ok(()) => "receiver stopped".to_owned(),
        Err(e) => e.to_string(),
    };
    let _ = tx.send(Wire::End(why));
}

/// Requests frames until something fails.
async fn run(
    front: SocketAddr,
    base: &str,
    transport: HttpTransport,
    tx: &UnboundedSender<Wire>,
) -> io::Result<()> {
    let mut http = Http::connect(front, Instant::now() + POLL_WAIT).await?;
    let url = transport.url(base);
    let mut instance: Option<Option<String>> = None;
    loop {
        let deadline = Instant::now() + POLL_WAIT;
        if matches!(
            transport,
            HttpTransport::HtmlFile | HttpTransport::EventSource | HttpTransport::Jsonp
        ) {
            http.get(&url, deadline).await?;
        } else {
            http.post(&url, b"", deadline).await?;
        }
        let mut frames = Vec::new();
        if transport.streams() {
            let head = http.head(deadline).await?;
            check(head.status, &mut instance, http.served_by(), tx)?;
            let mut split = Splitter::new(transport);
            while let Some(chunk) = http.chunk(Instant::now() + POLL_WAIT).await? {
                split.push(chunk, &mut frames)?;
                deliver(&mut frames, tx)?;
            }
        } else {
            let (status, body) = http.response(deadline).await?;
            let body = body.to_vec();
            check(status, &mut instance, http.served_by(), tx)?;
            let mut split = Splitter::new(transport);
            split.push(&body, &mut frames)?;
            deliver(&mut frames, tx)?;
        }
    }
}

/// A response's status and instance: the first names the session's instance (and
/// reports it open once its `o` arrives); a later one must be 200 from the same.
fn check(
    status: u16,
    instance: &mut Option<Option<String>>,
    served_by: Option<&str>,
    tx: &UnboundedSender<Wire>,
) -> io::Result<()> {
    if status != 200 {
        return Err(io::Error::other(format!("answered {status}")));
    }
    let served_by = served_by.map(str::to_owned);
    match instance {
        None => {
            *instance = Some(served_by.clone());
            tx.send(Wire::Opened(served_by))
                .map_err(|_| io::Error::other("session gone"))
        }
        Some(known) if *known == served_by => Ok(()),
        Some(known) => Err(io::Error::other(format!(
            "{MOVED} a request of the session reached {served_by:?}, not {known:?}"
        ))),
    }
}

/// Passes on the frames split off (the first `o` too: the session skips it).
fn deliver(frames: &mut Vec<String>, tx: &UnboundedSender<Wire>) -> io::Result<()> {
    for frame in frames.drain(..) {
        tx.send(Wire::Frame(frame))
            .map_err(|_| io::Error::other("session gone"))?;
    }
    Ok(())
}

/// Cuts the body of a response into frames, whatever its chunks.
pub(crate) struct Splitter {
    transport: HttpTransport,
    buf: Vec<u8>,
    /// Still before the end of the prelude (eventsource, htmlfile).
    prelude: bool,
}

impl Splitter {
    /// A splitter for one response of `transport`.
    pub(crate) fn new(transport: HttpTransport) -> Splitter {
        let prelude = matches!(transport, HttpTransport::HtmlFile);
        Splitter {
            transport,
            buf: Vec::new(),
            prelude,
        }
    }

    /// Takes in `chunk`; appends every whole frame to `out`. Heartbeats and the
    /// xhr_streaming prelude are dropped.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<String>) -> io::Result<()> {
        self.buf.extend_from_slice(chunk);
        if self.prelude {
            let Some(at) = find(&self.buf, b"\r\n\r\n") else {
                return Ok(());
            };
            self.buf.drain(..at + 4);
            self.prelude = false;
        }
        let end: &[u8] = match self.transport {
            HttpTransport::Xhr | HttpTransport::XhrStreaming => b"\n",
            HttpTransport::EventSource => b"\r\n\r\n",
            HttpTransport::HtmlFile => b"</script>\r\n",
            HttpTransport::Jsonp => b");\r\n",
        };
        while let Some(at) = find(&self.buf, end) {
            let piece: Vec<u8> = self.buf.drain(..at + end.len()).collect();
            let piece = &piece[..at];
            let frame = match self.transport {
                HttpTransport::Xhr | HttpTransport::XhrStreaming => text(piece)?,
                HttpTransport::EventSource => {
                    // The prelude is a lone `\r\n` before the first event.
                    let piece = piece.strip_prefix(b"\r\n").unwrap_or(piece);
                    text(piece.strip_prefix(b"data: ").ok_or_else(|| bad(piece))?)?
                }
                HttpTransport::HtmlFile => {
                    let at = find(piece, b"p(").ok_or_else(|| bad(piece))?;
                    let quoted = piece[at + 2..]
                        .strip_suffix(b");\n")
                        .ok_or_else(|| bad(piece))?;
                    unquote(quoted)?
                }
                HttpTransport::Jsonp => {
                    let prefix = format!("/**/{CALLBACK}(");
                    unquote(
                        piece
                            .strip_prefix(prefix.as_bytes())
                            .ok_or_else(|| bad(piece))?,
                    )?
                }
            };
            if !frame.is_empty() && !frame.bytes().all(|b| b == b'h') {
                out.push(frame);
            }
        }
        Ok(())
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An error naming a piece of a response that is not what the transport sends.
fn bad(piece: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "unexpected response piece {:?}",
            String::from_utf8_lossy(&piece[..piece.len().min(80)])
        ),
    )
}

/// A piece as text.
fn text(piece: &[u8]) -> io::Result<String> {
    String::from_utf8(piece.to_vec()).map_err(|_| bad(piece))
}

/// A JSON string literal's value.
fn unquote(quoted: &[u8]) -> io::Result<String> {
    serde_json::from_slice(quoted).map_err(|_| bad(quoted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(transport: HttpTransport, chunks: &[&[u8]]) -> Vec<String> {
        let mut s = Splitter::new(transport);
        let mut out = Vec::new();
        for chunk in chunks {
            s.push(chunk, &mut out).expect("splits");
        }
        out
    }

    #[test]
    fn every_transport_gives_its_frames_whatever_the_chunks() {
        let prelude = format!("{}\n", "h".repeat(2048));
        assert_eq!(
            split(
                HttpTransport::XhrStreaming,
                &[prelude.as_bytes(), b"o\na[\"b1\"", b"]\nh\n"]
            ),
            vec!["o", "a[\"b1\"]"]
        );
        assert_eq!(
            split(
                HttpTransport::EventSource,
                &[b"\r\n", b"data: o\r\n\r\ndata: a[\"e1\"]\r", b"\n\r\n"]
            ),
            vec!["o", "a[\"e1\"]"]
        );
        let html = b"<!doctype html>\n<script>function p(d) {c.message(d);};</script>   \r\n\r\n";
        assert_eq!(
            split(
                HttpTransport::HtmlFile,
                &[
                    html,
                    b"<script>\np(\"o\");\n</script>\r\n<script>\np(\"a[\\\"b2\\\"]\");\n</sc",
                    b"ript>\r\n"
                ]
            ),
            vec!["o", "a[\"b2\"]"]
        );
        assert_eq!(
            split(HttpTransport::Jsonp, &[b"/**/cb(\"a[\\\"b3\\\"]\");\r\n"]),
            vec!["a[\"b3\"]"]
        );
        assert!(
            Splitter::new(HttpTransport::Jsonp)
                .push(b"/**/x(\"o\");\r\n", &mut Vec::new())
                .is_err()
        );
    }
}
