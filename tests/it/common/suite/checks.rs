//! The suite's shared checks (the `verify*` methods of class `Test` in
//! `sockjs-protocol.py`), on responses read by the harness in `super`.

use super::*;

/// `verify404`.
pub(crate) fn verify404(r: &Response) {
    assert_eq!(r.status(), 404, "{:?}", r.head);
}

/// `verify405`: no content type, an `Allow` header, no body.
pub(crate) fn verify405(r: &Response) {
    assert_eq!(r.status(), 405);
    assert!(r.head.falsy("content-type"), "{:?}", r.head);
    assert!(!r.head.falsy("allow"), "{:?}", r.head);
    assert!(r.body.is_empty(), "{:?}", r.text());
}

/// `verify_content_type`: the header with spaces removed equals `ct` exactly.
pub(crate) fn verify_content_type(h: &Head, ct: &str) {
    assert_eq!(
        h.header("content-type")
            .map(|v| v.replace(' ', ""))
            .as_deref(),
        Some(ct),
        "{h:?}"
    );
}

/// `verify_no_cookie`.
pub(crate) fn verify_no_cookie(h: &Head) {
    assert!(h.falsy("set-cookie"), "{h:?}");
}

/// `verify_cors`. `Access-Control-Allow-Credentials: true` always.
///
/// * no `Origin`: `*` (suite v0.3.3; the later suite never checks a request without an
///   Origin);
/// * `Origin: null`: echoed as `null`, as the later suite wants (v0.3.3 wanted `*`);
/// * any other origin: echoed.
pub(crate) fn verify_cors(h: &Head, origin: Option<&str>) {
    assert_eq!(
        h.header("access-control-allow-origin"),
        Some(origin.unwrap_or("*")),
        "{h:?}"
    );
    assert_eq!(
        h.header("access-control-allow-credentials"),
        Some("true"),
        "{h:?}"
    );
}

/// `verify_not_cached`: the exact no-cache value ([`NO_CACHE`]), no `Expires`, no
/// `Last-Modified`.
pub(crate) fn verify_not_cached(h: &Head) {
    assert_eq!(h.header("cache-control"), Some(NO_CACHE), "{h:?}");
    assert!(h.falsy("expires"), "{h:?}");
    assert!(h.falsy("last-modified"), "{h:?}");
}

/// `Cache-Control` says `public` and `max-age=` with at least seven digits, the first
/// not 0 (the suite's `max-age=[1-9][0-9]{6}`).
pub(crate) fn verify_long_cache(h: &Head) {
    let cc = h.header("cache-control").unwrap_or_default();
    assert!(cc.contains("public"), "{cc:?}");
    let long_max_age = cc.match_indices("max-age=").any(|(at, m)| {
        let digits: Vec<u8> = cc.as_bytes()[at + m.len()..]
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        digits.len() >= 7 && digits[0] != b'0'
    });
    assert!(long_max_age, "max-age must be large: {cc:?}");
    assert!(!h.falsy("expires"), "{h:?}");
}

/// `verify_options(url, allowed)`, for the origins of both suites: none (v0.3.3, no
/// other header), `test` and `null` (also sending `Access-Control-Request-Method`, as
/// the later suite does). 204, cacheable for a long time, `Access-Control-Max-Age`
/// over 1000000, exactly `allowed` as `Access-Control-Allow-Methods` (v0.3.3 wants it
/// exact, the later suite only each method in it), no body, CORS as [`verify_cors`].
pub(crate) async fn verify_options(addr: SocketAddr, path: &str, allowed: &str) {
    for origin in [None, Some("test"), Some("null")] {
        let headers: Vec<(&str, &str)> = match origin {
            None => vec![],
            Some(o) => vec![("Origin", o), ("Access-Control-Request-Method", allowed)],
        };
        let r = request(addr, "OPTIONS", path, &headers, None).await;
        assert_eq!(r.status(), 204, "{path} {origin:?}");
        verify_long_cache(&r.head);
        let max_age: u64 = r
            .header("access-control-max-age")
            .and_then(|v| v.parse().ok())
            .expect("numeric Access-Control-Max-Age");
        assert!(max_age > 1_000_000, "{max_age}");
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some(allowed),
            "{path}"
        );
        assert!(r.body.is_empty(), "{:?}", r.text());
        verify_cors(&r.head, origin);
    }
}

/// `JsessionidCookie.verify_cookie`, for any value: the first `;` part of `Set-Cookie`
/// is `JSESSIONID=<value>`, the second (lower-cased) `path=/`.
pub(crate) fn verify_cookie(h: &Head, value: &str) {
    let cookie = h.header("set-cookie").expect("Set-Cookie");
    let parts: Vec<&str> = cookie.split(';').collect();
    assert_eq!(parts[0].trim(), format!("JSESSIONID={value}"), "{cookie:?}");
    assert_eq!(
        parts
            .get(1)
            .map(|p| p.trim().to_ascii_lowercase())
            .as_deref(),
        Some("path=/"),
        "{cookie:?}"
    );
}
