//! Which SockJS route the part of a request path after the service's prefix names.
//! Pure: no request, no I/O.

use crate::vocabulary::Transport;
use crate::web::iframe::is_iframe_name;

/// What a session URL's last part (`/{server}/{session}/{endpoint}`) names: a
/// transport's endpoint, or one of the two that carry a polling transport's sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    WebSocket,
    Xhr,
    XhrSend,
    XhrStreaming,
    EventSource,
    HtmlFile,
    Jsonp,
    JsonpSend,
}

impl Endpoint {
    const ALL: [Endpoint; 8] = [
        Endpoint::WebSocket,
        Endpoint::Xhr,
        Endpoint::XhrSend,
        Endpoint::XhrStreaming,
        Endpoint::EventSource,
        Endpoint::HtmlFile,
        Endpoint::Jsonp,
        Endpoint::JsonpSend,
    ];

    /// The endpoint a URL names, if any.
    pub(crate) fn parse(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Its name in URLs: the transport's own name ([`Transport::name`]), or
    /// `xhr_send` and `jsonp_send`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Endpoint::XhrSend => "xhr_send",
            Endpoint::JsonpSend => "jsonp_send",
            _ => self.transports()[0].name(),
        }
    }

    /// The transports it serves: it is offered while one of them is enabled.
    pub(crate) fn transports(self) -> &'static [Transport] {
        match self {
            Endpoint::WebSocket => &[Transport::WebSocket],
            Endpoint::Xhr => &[Transport::Xhr],
            Endpoint::XhrSend => &[Transport::Xhr, Transport::XhrStreaming],
            Endpoint::XhrStreaming => &[Transport::XhrStreaming],
            Endpoint::EventSource => &[Transport::EventSource],
            Endpoint::HtmlFile => &[Transport::HtmlFile],
            Endpoint::Jsonp | Endpoint::JsonpSend => &[Transport::Jsonp],
        }
    }
}

/// What the part of the path after the prefix asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Greeting,
    Info,
    Iframe,
    RawWebSocket,
    Session {
        session: &'a str,
        transport: &'a str,
    },
    NotFound,
}

pub(crate) fn route(rest: &str, max_id_length: usize) -> Route<'_> {
    match rest {
        "" | "/" => return Route::Greeting,
        "/info" => return Route::Info,
        "/websocket" => return Route::RawWebSocket,
        _ => {}
    }
    let Some(path) = rest.strip_prefix('/') else {
        return Route::NotFound;
    };
    if !path.contains('/') && is_iframe_name(path) {
        return Route::Iframe;
    }
    let mut parts = path.split('/');
    let (Some(server), Some(session), Some(transport), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::NotFound;
    };
    let valid = |s: &str| !s.is_empty() && s.len() <= max_id_length && !s.contains('.');
    if valid(server) && valid(session) && !transport.is_empty() {
        Route::Session { session, transport }
    } else {
        Route::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_under_the_prefix() {
        assert_eq!(route("", 128), Route::Greeting);
        assert_eq!(route("/", 128), Route::Greeting);
        assert_eq!(route("/info", 128), Route::Info);
        assert_eq!(route("/iframe.html", 128), Route::Iframe);
        assert_eq!(route("/iframe-1.2.3.html", 128), Route::Iframe);
        assert_eq!(route("/websocket", 128), Route::RawWebSocket);
        assert_eq!(
            route("/000/abc/xhr", 128),
            Route::Session {
                session: "abc",
                transport: "xhr"
            }
        );
    }

    #[test]
    fn endpoints_are_named_as_their_transports_and_parse_back() {
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::parse(endpoint.name()), Some(endpoint));
        }
        assert_eq!(Endpoint::XhrStreaming.name(), "xhr_streaming");
        assert_eq!(Endpoint::parse("jsonp_send"), Some(Endpoint::JsonpSend));
        assert_eq!(Endpoint::parse("rawwebsocket"), None);
        assert_eq!(Endpoint::parse("XHR"), None);
        assert_eq!(
            Endpoint::XhrSend.transports(),
            [Transport::Xhr, Transport::XhrStreaming]
        );
    }

    #[test]
    fn malformed_session_urls_are_not_found() {
        for rest in [
            "/a/b",
            "/a/b/c/d",
            "//b/xhr",
            "/a//xhr",
            "/a/b/",
            "/a.b/c/xhr",
            "/a/b.c/xhr",
            "/x",
            "/info/",
            "/iframe.htm",
            "/a/iframe.html",
        ] {
            assert_eq!(route(rest, 128), Route::NotFound, "{rest}");
        }
    }

    #[test]
    fn ids_longer_than_the_limit_are_not_found() {
        let long = "x".repeat(129);
        assert_eq!(route(&format!("/000/{long}/xhr"), 128), Route::NotFound);
        assert_eq!(route(&format!("/{long}/abc/xhr"), 128), Route::NotFound);
        assert_eq!(
            route(&format!("/000/{}/xhr", &long[..128]), 128),
            Route::Session {
                session: &long[..128],
                transport: "xhr"
            }
        );
    }
}
