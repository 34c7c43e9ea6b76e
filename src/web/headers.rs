//! Headers shared by every SockJS response.

use std::time::{Duration, SystemTime};

use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::config::SockJsConfig;

/// The exact Cache-Control value the protocol suite checks on dynamic responses.
pub(crate) const NO_CACHE: &str = "no-store, no-cache, no-transform, must-revalidate, max-age=0";
const ONE_YEAR_SECS: u64 = 31_536_000;

/// Marks a response as never to be cached.
pub(crate) fn no_cache(res: &mut HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, NO_CACHE));
}

/// Marks a response as cacheable for a year.
pub(crate) fn cache_for_a_year(res: &mut HttpResponseBuilder) {
    let expires = SystemTime::now() + Duration::from_secs(ONE_YEAR_SECS);
    res.insert_header((header::CACHE_CONTROL, "public, max-age=31536000"));
    res.insert_header((header::EXPIRES, HttpDate::from(expires).to_string()));
}

/// CORS for credentialed cross-origin requests: the request's `Origin` is echoed
/// (`null` stays `null`), `*` when there is none, and requested headers are allowed.
pub(crate) fn cors(req: &HttpRequest, res: &mut HttpResponseBuilder) {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .cloned()
        .unwrap_or_else(|| header::HeaderValue::from_static("*"));
    res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin));
    res.insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"));
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone()));
    }
}

/// Sets `JSESSIONID` when the service needs it: the client's own value, or `dummy`,
/// so a load balancer can stick the session to this instance.
pub(crate) fn jsessionid(req: &HttpRequest, config: &SockJsConfig, res: &mut HttpResponseBuilder) {
    if let Some(cookie) = jsessionid_cookie(req, config) {
        res.append_header((header::SET_COOKIE, cookie));
    }
}

/// The `Set-Cookie` value [`jsessionid`] sets, if the service needs one.
pub(crate) fn jsessionid_cookie(req: &HttpRequest, config: &SockJsConfig) -> Option<String> {
    if !config.cookie_needed {
        return None;
    }
    let value = req.cookie("JSESSIONID").map(|c| c.value().to_owned());
    let value = value
        .as_deref()
        .filter(|v| is_cookie_value(v))
        .unwrap_or("dummy");
    Some(format!("JSESSIONID={value}; path=/"))
}

/// Cookie values we echo must not smuggle attributes or header breaks.
fn is_cookie_value(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'"')
}

/// The headers of a dynamic transport response: CORS, no caching, JSESSIONID.
pub(crate) fn transport_headers(
    req: &HttpRequest,
    config: &SockJsConfig,
    res: &mut HttpResponseBuilder,
) {
    cors(req, res);
    no_cache(res);
    jsessionid(req, config, res);
}

/// The answer to a CORS preflight (`OPTIONS`): 204, cacheable for a year.
pub(crate) fn preflight(
    req: &HttpRequest,
    config: &SockJsConfig,
    methods: &'static str,
) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    cors(req, &mut res);
    jsessionid(req, config, &mut res);
    cache_for_a_year(&mut res);
    res.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods));
    res.insert_header((header::ACCESS_CONTROL_MAX_AGE, "31536000"));
    res.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn header_of(res: &HttpResponse, name: &str) -> Option<String> {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn cors_echoes_origin_and_defaults_to_star() {
        let req = TestRequest::default()
            .insert_header(("Origin", "http://a.example"))
            .to_http_request();
        let mut res = HttpResponse::Ok();
        cors(&req, &mut res);
        let res = res.finish();
        assert_eq!(
            header_of(&res, "access-control-allow-origin").as_deref(),
            Some("http://a.example")
        );
        assert_eq!(
            header_of(&res, "access-control-allow-credentials").as_deref(),
            Some("true")
        );

        let req = TestRequest::default().to_http_request();
        let mut res = HttpResponse::Ok();
        cors(&req, &mut res);
        assert_eq!(
            header_of(&res.finish(), "access-control-allow-origin").as_deref(),
            Some("*")
        );
    }

    #[test]
    fn cors_echoes_null_origin() {
        let req = TestRequest::default()
            .insert_header(("Origin", "null"))
            .to_http_request();
        let mut res = HttpResponse::Ok();
        cors(&req, &mut res);
        assert_eq!(
            header_of(&res.finish(), "access-control-allow-origin").as_deref(),
            Some("null")
        );
    }

    #[test]
    fn jsessionid_only_when_needed_and_echoes_client_value() {
        let req = TestRequest::default()
            .insert_header(("Cookie", "JSESSIONID=abc"))
            .to_http_request();
        let mut res = HttpResponse::Ok();
        jsessionid(&req, &SockJsConfig::default(), &mut res);
        assert_eq!(header_of(&res.finish(), "set-cookie"), None);

        let needed = SockJsConfig::default().cookie_needed(true);
        let mut res = HttpResponse::Ok();
        jsessionid(&req, &needed, &mut res);
        assert_eq!(
            header_of(&res.finish(), "set-cookie").as_deref(),
            Some("JSESSIONID=abc; path=/")
        );

        let req = TestRequest::default().to_http_request();
        let mut res = HttpResponse::Ok();
        jsessionid(&req, &needed, &mut res);
        assert_eq!(
            header_of(&res.finish(), "set-cookie").as_deref(),
            Some("JSESSIONID=dummy; path=/")
        );
    }

    #[test]
    fn preflight_is_204_cached_for_a_year() {
        let req = TestRequest::default()
            .insert_header(("Access-Control-Request-Headers", "a, b"))
            .to_http_request();
        let res = preflight(&req, &SockJsConfig::default(), "OPTIONS, POST");
        assert_eq!(res.status().as_u16(), 204);
        assert_eq!(
            header_of(&res, "cache-control").as_deref(),
            Some("public, max-age=31536000")
        );
        assert_eq!(
            header_of(&res, "access-control-max-age").as_deref(),
            Some("31536000")
        );
        assert_eq!(
            header_of(&res, "access-control-allow-methods").as_deref(),
            Some("OPTIONS, POST")
        );
        assert_eq!(
            header_of(&res, "access-control-allow-headers").as_deref(),
            Some("a, b")
        );
        assert!(header_of(&res, "expires").is_some());
    }
}
