//! The request headers a [`ConnectionInfo`](super::ConnectionInfo) keeps.

use std::sync::OnceLock;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// A request's headers, listed as its [`HeaderMap`] holds them (the values of one
/// name in the order they came), with a map of its own made the first time
/// something asks for one.
///
/// Every session keeps its opening request's headers until `on_open` has run, and
/// most handlers never read them, or read one by name: a list costs one allocation
/// and a reference count per header (the names and values share the request's
/// buffer), where a `HeaderMap` hashes every name into a table of its own.
#[derive(Clone)]
pub(super) struct RequestHeaders {
    list: Vec<(HeaderName, HeaderValue)>,
    map: OnceLock<HeaderMap>,
}

impl RequestHeaders {
    pub(super) fn copy_of(headers: &HeaderMap) -> Self {
        RequestHeaders {
            list: headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            map: OnceLock::new(),
        }
    }

    /// The first value of the header `name` (case-insensitive), as text.
    pub(super) fn text(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(k, _)| k.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// Every header, as a map (made on the first call).
    pub(super) fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| {
            let mut map = HeaderMap::with_capacity(self.list.len());
            for (name, value) in &self.list {
                map.append(name.clone(), value.clone());
            }
            map
        })
    }
}

impl std::fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.list.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header;

    fn request_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.append(header::ORIGIN, HeaderValue::from_static("http://a.example"));
        headers.append(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("203.0.113.7"),
        );
        headers.append(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("10.0.0.2"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"a=\xff")
                .expect("visible ASCII and obs-text are a valid value"),
        );
        headers
    }

    #[test]
    fn a_header_is_found_by_any_case_and_its_first_value_wins() {
        let headers = RequestHeaders::copy_of(&request_headers());
        assert_eq!(headers.text("Origin"), Some("http://a.example"));
        assert_eq!(headers.text("X-FORWARDED-FOR"), Some("203.0.113.7"));
        assert_eq!(headers.text("referer"), None);
        // Not text: no value, as `HeaderValue::to_str` says.
        assert_eq!(headers.text("cookie"), None);
    }

    #[test]
    fn the_map_holds_every_value_in_order() {
        let original = request_headers();
        let headers = RequestHeaders::copy_of(&original);
        let map = headers.map();
        assert_eq!(map.len(), original.len());
        let forwarded: Vec<_> = map.get_all("x-forwarded-for").collect();
        assert_eq!(forwarded, ["203.0.113.7", "10.0.0.2"]);
        // Made once: the same map on every call.
        assert!(std::ptr::eq(map, headers.map()));
        let listed: Vec<_> = original
            .iter()
            .map(|(k, v)| format!("{k:?}: {v:?}"))
            .collect();
        assert_eq!(format!("{headers:?}"), format!("{{{}}}", listed.join(", ")));
    }

    #[test]
    fn connection_info_stays_send_and_sync() {
        // Applications move it into their actors and share it: the list and the map
        // made on demand must not take that away.
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<super::super::ConnectionInfo>();
        send_and_sync::<RequestHeaders>();
    }
}
