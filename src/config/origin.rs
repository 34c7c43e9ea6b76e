//! Which web origins may use a service: the allowlist of
//! [`SockJsConfig::allowed_origins`](crate::SockJsConfig::allowed_origins), and what a
//! request's origin is.
//!
//! A browser names the page a request comes from in `Origin` on every websocket
//! upgrade and every cross-origin XHR, and on every POST. It does not on a cross-origin
//! GET made by a `<script>` (JSONP) or an iframe (htmlfile), which is why, without
//! `Origin`, the `Referer`'s origin is taken, and why a request that names neither is
//! refused when the browser says it is cross-site (`Sec-Fetch-Site`, sent by every
//! current browser). A request naming no origin and no fetch site is a non-browser
//! client, or a same-origin request from an old browser: it is allowed. A page on the
//! server's own origin (its `Host`) is always allowed: the iframe transports run there.
//! The default allowlist is empty: only those. [`OriginPattern::any`] lets every
//! origin in, and then nothing is checked.

use actix_web::HttpRequest;
use actix_web::http::header;

/// One entry of an origin allowlist: `scheme://host[:port]`, where the host may start
/// with `*.` (any subdomain, at any depth, not the domain itself) and the port may be
/// `*` (any port). The default port of `http` (80) and `https` (443) may be left out.
/// `*` alone (or `*:*`, as SockJS's `/info` writes it) is every origin:
/// [`OriginPattern::any`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.suffix`: the suffix, with its leading dot.
    Subdomains(String),
    /// `*`: every origin, whatever its scheme and port.
    AnyOrigin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exact(u16),
}

/// A request's origin, parsed: lower-case scheme and host, the port made explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits `scheme://host[:port]` (nothing after it but an optional `/`).
fn split(text: &str) -> Option<(String, &str, Option<&str>)> {
    let (scheme, rest) = text.split_once("://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if scheme.is_empty() || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    // An IPv6 host is bracketed: its colons are not the port's.
    let (host, port) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains(']') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme, host, port))
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, host, port) = split(text.trim())?;
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => default_port(&scheme)?,
        };
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The origin of a URL (`Referer`): its scheme, host and port, without the path.
    fn of_url(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Origin::parse(&format!("{scheme}://{}", &rest[..end]))
    }
}

impl OriginPattern {
    /// Every origin: a service whose allowlist has it lets any web page use it, with
    /// its visitors' cookies (what SockJS servers did by default, and what the
    /// protocol's test suites expect). Only for services that authenticate each
    /// session themselves, or hold nothing a foreign page should reach.
    ///
    /// ```
    /// use actix_sockjs::{OriginPattern, SockJsConfig};
    /// let config = SockJsConfig::default().allowed_origins([OriginPattern::any()]);
    /// assert_eq!(config.allowed_origins[0].to_string(), "*:*");
    /// assert_eq!(OriginPattern::parse("*"), Some(OriginPattern::any()));
    /// ```
    pub fn any() -> OriginPattern {
        OriginPattern {
            scheme: String::from("*"),
            host: HostPattern::AnyOrigin,
            port: PortPattern::Any,
        }
    }

    /// Whether this is [`OriginPattern::any`].
    pub(crate) fn is_any(&self) -> bool {
        self.host == HostPattern::AnyOrigin
    }

    /// Parses one allowlist entry; `None` if it is not of the documented form.
    ///
    /// ```
    /// use actix_sockjs::OriginPattern;
    /// assert!(OriginPattern::parse("https://app.example.com").is_some());
    /// assert!(OriginPattern::parse("https://*.example.com").is_some());
    /// assert!(OriginPattern::parse("http://localhost:*").is_some());
    /// assert!(OriginPattern::parse("*").is_some_and(|p| p == OriginPattern::any()));
    /// assert!(OriginPattern::parse("app.example.com").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<OriginPattern> {
        if matches!(text.trim(), "*" | "*:*") {
            return Some(OriginPattern::any());
        }
        let (scheme, host, port) = split(text.trim())?;
        let port = match port {
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(p.parse().ok()?),
            None => PortPattern::Exact(default_port(&scheme)?),
        };
        let host = host.to_ascii_lowercase();
        let host = match host.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 => {
                HostPattern::Subdomains(suffix.to_owned())
            }
            Some(_) => return None,
            None if host.contains('*') => return None,
            None => HostPattern::Exact(host),
        };
        Some(OriginPattern { scheme, host, port })
    }

    fn matches(&self, origin: &Origin) -> bool {
        if self.is_any() {
            return true;
        }
        self.scheme == origin.scheme
            && match &self.host {
                HostPattern::Exact(h) => *h == origin.host,
                HostPattern::Subdomains(suffix) => {
                    origin.host.len() > suffix.len() && origin.host.ends_with(suffix.as_str())
                }
                HostPattern::AnyOrigin => true,
            }
            && match self.port {
                PortPattern::Any => true,
                PortPattern::Exact(p) => p == origin.port,
            }
    }
}

/// An allowlist entry that is not of the form [`OriginPattern`] documents.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidOriginPattern(pub String);

impl std::fmt::Display for InvalidOriginPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid origin {:?}: expected scheme://host[:port], host may start with *., port may be *",
            self.0
        )
    }
}

impl std::error::Error for InvalidOriginPattern {}

impl std::str::FromStr for OriginPattern {
    type Err = InvalidOriginPattern;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OriginPattern::parse(s).ok_or_else(|| InvalidOriginPattern(s.to_owned()))
    }
}

impl std::fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_any() {
            return f.write_str("*:*");
        }
        write!(f, "{}://", self.scheme)?;
        match &self.host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(suffix) => write!(f, "*{suffix}")?,
            HostPattern::AnyOrigin => {}
        }
        match self.port {
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Exact(p) if Some(p) == default_port(&self.scheme) => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
        }
    }
}

/// What the allowlist says of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    Refused,
}

/// Whether `allowed` lets every origin in: then no request's origin is checked.
pub(crate) fn allows_any(allowed: &[OriginPattern]) -> bool {
    allowed.iter().any(OriginPattern::is_any)
}

/// Checks a request's origin against `allowed` (see the module docs for the rule).
pub(crate) fn check(req: &HttpRequest, allowed: &[OriginPattern]) -> Verdict {
    let headers = req.headers();
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = text(header::ORIGIN);
    let referer = origin.is_none().then(|| text(header::REFERER)).flatten();
    if origin.is_none() && referer.is_none() {
        // Names no origin (non-browser clients, most requests of a benchmark): only
        // the fetch site counts, and the host is not looked at.
        let fetch_site = text(header::HeaderName::from_static("sec-fetch-site"));
        return decide(None, None, fetch_site, None, allowed);
    }
    let own_host = text(header::HOST).map(str::to_ascii_lowercase);
    decide(origin, referer, None, own_host.as_deref(), allowed)
}

/// The rule itself, on header values.
fn decide(
    origin: Option<&str>,
    referer: Option<&str>,
    fetch_site: Option<&str>,
    own_host: Option<&str>,
    allowed: &[OriginPattern],
) -> Verdict {
    if allows_any(allowed) {
        return Verdict::Allowed;
    }
    let named = match origin {
        Some(o) => Some(Origin::parse(o)),
        None => referer.map(Origin::of_url),
    };
    let ok = match named {
        // `Origin: null` (sandboxed frames, file: pages) or garbage: never allowed.
        Some(None) => false,
        Some(Some(origin)) => {
            let authority = if default_port(&origin.scheme) == Some(origin.port) {
                origin.host.clone()
            } else {
                format!("{}:{}", origin.host, origin.port)
            };
            own_host == Some(authority.as_str())
                || own_host.is_some_and(|h| h == format!("{}:{}", origin.host, origin.port))
                || allowed.iter().any(|p| p.matches(&origin))
        }
        None => !matches!(fetch_site, Some("cross-site" | "same-site")),
    };
    if ok {
        Verdict::Allowed
    } else {
        Verdict::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(patterns: &[&str]) -> Vec<OriginPattern> {
        patterns
            .iter()
            .map(|p| OriginPattern::parse(p).expect("pattern"))
            .collect()
    }

    fn allowed(origin: Option<&str>, patterns: &[&str]) -> bool {
        decide(
            origin,
            None,
            None,
            Some("sockjs.example:8080"),
            &list(patterns),
        ) == Verdict::Allowed
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        let p = &["https://app.example.com", "http://localhost:3000"];
        assert!(allowed(Some("https://app.example.com"), p));
        assert!(allowed(Some("https://APP.example.com:443"), p));
        assert!(allowed(Some("http://localhost:3000"), p));
        assert!(!allowed(Some("http://app.example.com"), p));
        assert!(!allowed(Some("https://app.example.com:8443"), p));
        assert!(!allowed(Some("http://localhost:3001"), p));
        assert!(!allowed(Some("https://evil.example"), p));
        assert!(!allowed(Some("https://app.example.com.evil.example"), p));
    }

    #[test]
    fn a_wildcard_host_takes_subdomains_only_and_a_wildcard_port_any_port() {
        let p = &["https://*.example.com", "http://127.0.0.1:*"];
        assert!(allowed(Some("https://a.example.com"), p));
        assert!(allowed(Some("https://a.b.example.com"), p));
        assert!(!allowed(Some("https://example.com"), p));
        assert!(!allowed(Some("https://badexample.com"), p));
        assert!(!allowed(Some("http://a.example.com"), p));
        assert!(allowed(Some("http://127.0.0.1:1234"), p));
        assert!(allowed(Some("http://127.0.0.1"), p));
        assert!(!allowed(Some("http://localhost:1234"), p));
    }

    #[test]
    fn any_lets_every_origin_in_and_the_empty_list_only_the_servers_own() {
        assert!(allowed(Some("https://evil.example"), &["*"]));
        assert!(allowed(Some("null"), &["https://app.example.com", "*"]));
        assert!(allows_any(&list(&["https://app.example.com", "*"])));
        assert!(!allows_any(&list(&["https://*.example.com"])));
        assert!(!allowed(Some("https://evil.example"), &[]));
        assert!(allowed(Some("http://sockjs.example:8080"), &[]));
        assert!(allowed(None, &[]));
    }

    #[test]
    fn null_and_malformed_origins_are_refused() {
        let p = &["https://app.example.com"];
        assert!(!allowed(Some("null"), p));
        assert!(!allowed(Some(""), p));
        assert!(!allowed(Some("https://app.example.com/path"), p));
        assert!(!allowed(Some("https://user@app.example.com"), p));
    }

    #[test]
    fn the_servers_own_origin_is_always_allowed() {
        assert!(allowed(Some("http://sockjs.example:8080"), &[]));
        assert!(allowed(Some("https://sockjs.example:8080"), &[]));
        assert!(!allowed(Some("http://sockjs.example:8081"), &[]));
        let own_default_port =
            |o| decide(Some(o), None, None, Some("sockjs.example"), &[]) == Verdict::Allowed;
        assert!(own_default_port("https://sockjs.example"));
        assert!(own_default_port("http://sockjs.example:80"));
        assert!(!own_default_port("http://sockjs.example:81"));
    }

    #[test]
    fn without_origin_the_referer_counts_and_cross_site_requests_naming_nothing_are_refused() {
        let p = list(&["https://app.example.com"]);
        let d = |referer, site| decide(None, referer, site, Some("sockjs.example"), &p);
        assert_eq!(
            d(Some("https://app.example.com/chat?x=1"), Some("cross-site")),
            Verdict::Allowed
        );
        assert_eq!(
            d(Some("https://evil.example/page"), Some("cross-site")),
            Verdict::Refused
        );
        assert_eq!(d(Some("https://evil.example/page"), None), Verdict::Refused);
        assert_eq!(d(None, Some("cross-site")), Verdict::Refused);
        assert_eq!(d(None, Some("same-site")), Verdict::Refused);
        assert_eq!(d(None, Some("same-origin")), Verdict::Allowed);
        assert_eq!(d(None, Some("none")), Verdict::Allowed);
        // A non-browser client.
        assert_eq!(d(None, None), Verdict::Allowed);
    }

    #[test]
    fn patterns_parse_only_in_the_documented_form_and_print_back() {
        for bad in [
            "app.example.com",
            "https://",
            "https://a*.example.com",
            "https://*example.com",
            "https://*.",
            "https://app.example.com/x",
            "https://app.example.com:port",
            "ftp://app.example.com",
            "**",
            "*://*",
        ] {
            assert_eq!(OriginPattern::parse(bad), None, "{bad}");
        }
        for (text, shown) in [
            ("https://app.example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("HTTP://Localhost:3000/", "http://localhost:3000"),
            ("https://*.example.com", "https://*.example.com"),
            ("http://127.0.0.1:*", "http://127.0.0.1:*"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("*", "*:*"),
            (" *:* ", "*:*"),
        ] {
            let pattern = OriginPattern::parse(text).expect(text);
            assert_eq!(pattern.to_string(), shown);
        }
    }
}
