//! `GET /prefix/iframe.html` (and `/iframe-<anything>.html`): the page the iframe-based
//! transports load on the server's origin.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

use super::headers::cache_for_a_year;
use crate::config::origin::{self, OriginPattern};

/// The iframe page for one `sockjs_url`, with its stable ETag.
#[derive(Clone, Debug)]
pub(crate) struct IframePage {
    body: Bytes,
    etag: String,
    /// `Content-Security-Policy` unless the service allows every origin: the page may
    /// be framed only by its own origin and the allowed ones (else any page could
    /// drive a session through it).
    csp: Option<String>,
}

impl IframePage {
    pub(crate) fn new(sockjs_url: &str, allowed_origins: &[OriginPattern]) -> Self {
        let body = format!(
            "<!DOCTYPE html>\n\
             <html>\n\
             <head>\n  \
             <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n  \
             <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n  \
             <script src=\"{url}\"></script>\n  \
             <script>\n    \
             document.domain = document.domain;\n    \
             SockJS.bootstrap_iframe();\n  \
             </script>\n\
             </head>\n\
             <body>\n  \
             <h2>Don't panic!</h2>\n  \
             <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n\
             </body>\n\
             </html>",
            url = escape_attribute(sockjs_url)
        );
        let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
        let csp = (!origin::allows_any(allowed_origins)).then(|| {
            let mut csp = String::from("frame-ancestors 'self'");
            for origin in allowed_origins {
                csp.push(' ');
                csp.push_str(&origin.to_string());
            }
            csp
        });
        IframePage {
            body: Bytes::from(body),
            etag,
            csp,
        }
    }

    /// The page, or a bodiless 304 when the client already has this version.
    pub(crate) fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let matches = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|t| t.trim() == self.etag || t.trim() == "*")
            });
        if matches {
            return HttpResponse::NotModified()
                .insert_header((header::ETAG, self.etag.as_str()))
                .finish();
        }
        let mut res = HttpResponse::Ok();
        res.content_type("text/html; charset=UTF-8");
        cache_for_a_year(&mut res);
        res.insert_header((header::ETAG, self.etag.as_str()));
        if let Some(csp) = &self.csp {
            res.insert_header((header::CONTENT_SECURITY_POLICY, csp.as_str()));
        }
        res.body(self.body.clone())
    }
}

/// Whether a file name under the prefix is an iframe page: `iframe.html` or
/// `iframe-<anything>.html`.
pub(crate) fn is_iframe_name(name: &str) -> bool {
    name == "iframe.html"
        || (name.starts_with("iframe-") && name.ends_with(".html") && !name.contains('/'))
}

fn escape_attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// FNV-1a: a stable hash, so the ETag survives restarts and is the same on every
/// instance behind a load balancer.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iframe_names() {
        assert!(is_iframe_name("iframe.html"));
        assert!(is_iframe_name("iframe-0.3.4.html"));
        assert!(is_iframe_name("iframe-.html"));
        assert!(!is_iframe_name("iframe.htm"));
        assert!(!is_iframe_name("iframe-a.html.js"));
        assert!(!is_iframe_name("xiframe.html"));
    }

    #[test]
    fn page_loads_sockjs_url_escaped_and_etag_is_stable() {
        let a = IframePage::new("http://x/sockjs.js?a=1&b=\"2\"", &[]);
        let body = String::from_utf8_lossy(&a.body).into_owned();
        assert!(
            body.contains("<script src=\"http://x/sockjs.js?a=1&amp;b=&quot;2&quot;\"></script>")
        );
        assert_eq!(
            a.etag,
            IframePage::new("http://x/sockjs.js?a=1&b=\"2\"", &[]).etag
        );
        assert_ne!(a.etag, IframePage::new("http://y/sockjs.js", &[]).etag);
    }

    #[test]
    fn the_page_may_be_framed_by_the_allowed_origins_unless_any_is() {
        let own = IframePage::new("http://x/sockjs.js", &[]);
        assert_eq!(own.csp.as_deref(), Some("frame-ancestors 'self'"));
        let listed = ["https://app.example.com".parse().expect("pattern")];
        let some = IframePage::new("http://x/sockjs.js", &listed);
        assert_eq!(
            some.csp.as_deref(),
            Some("frame-ancestors 'self' https://app.example.com")
        );
        let any = IframePage::new("http://x/sockjs.js", &[OriginPattern::any()]);
        assert_eq!(any.csp, None);
    }
}
