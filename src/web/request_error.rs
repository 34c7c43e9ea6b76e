//! What can be wrong with a request, and the HTTP answer of each case.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};

use crate::protocol::PayloadError;

/// Everything a client's request can get wrong; each case maps to the HTTP status and
/// body SockJS specifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestError {
    /// No such session, or a URL SockJS does not know: 404.
    NotFound,
    /// The body of a send request was refused: 500 with the SockJS text
    /// (`Payload expected.` or `Broken JSON encoding.`).
    Payload(PayloadError),
    /// The body is larger than `max_message_size`: 413.
    PayloadTooLarge,
    /// The body could not be read from the connection: 400.
    PayloadRead,
    /// A jsonp / htmlfile request without its `c` parameter: 500.
    CallbackRequired,
    /// A `c` parameter outside `[a-zA-Z0-9_.-]`: 500, and never echoed back.
    InvalidCallback,
    /// A websocket request without `Upgrade: websocket`: 400.
    UpgradeRequired,
    /// A websocket request whose `Connection` header lacks `Upgrade`: 400.
    ConnectionNotUpgrade,
    /// A websocket handshake that is otherwise malformed (version, key): 400.
    BadHandshake,
    /// A method the URL does not take: 405 with the allowed methods.
    MethodNotAllowed(&'static str),
    /// The service holds [`max_sessions`](crate::SockJsConfig::max_sessions)
    /// sessions already: 503.
    TooManySessions,
    /// The request comes from a web origin the service does not allow
    /// ([`allowed_origins`](crate::SockJsConfig::allowed_origins)): 403, with no CORS
    /// headers and no cookie.
    OriginNotAllowed,
    /// The server is shutting down ([`GracefulShutdown`](crate::GracefulShutdown)):
    /// no new session is made. 503.
    ShuttingDown,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::NotFound => f.write_str("Not found"),
            RequestError::Payload(e) => e.fmt(f),
            RequestError::PayloadTooLarge => f.write_str("Payload too large."),
            RequestError::PayloadRead => f.write_str("Payload could not be read."),
            RequestError::CallbackRequired => f.write_str("\"callback\" parameter required"),
            RequestError::InvalidCallback => f.write_str("invalid \"callback\" parameter"),
            RequestError::UpgradeRequired => f.write_str("Can \"Upgrade\" only to \"WebSocket\"."),
            RequestError::ConnectionNotUpgrade => {
                f.write_str("\"Connection\" must be \"Upgrade\".")
            }
            RequestError::BadHandshake => f.write_str("Bad websocket handshake."),
            RequestError::MethodNotAllowed(_) => f.write_str(""),
            RequestError::TooManySessions => f.write_str("Too many sessions."),
            RequestError::OriginNotAllowed => f.write_str("Origin not allowed."),
            RequestError::ShuttingDown => f.write_str("Server shutting down."),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<PayloadError> for RequestError {
    fn from(e: PayloadError) -> Self {
        RequestError::Payload(e)
    }
}

impl ResponseError for RequestError {
    fn status_code(&self) -> StatusCode {
        match self {
            RequestError::NotFound => StatusCode::NOT_FOUND,
            RequestError::Payload(_)
            | RequestError::CallbackRequired
            | RequestError::InvalidCallback => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::PayloadRead
            | RequestError::UpgradeRequired
            | RequestError::ConnectionNotUpgrade
            | RequestError::BadHandshake => StatusCode::BAD_REQUEST,
            RequestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            RequestError::TooManySessions | RequestError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            RequestError::OriginNotAllowed => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let RequestError::MethodNotAllowed(allow) = self {
            // The protocol wants a bare 405: the Allow header, no body, no content type.
            res.insert_header(("Allow", *allow));
            return res.finish();
        }
        res.content_type("text/plain; charset=UTF-8");
        res.body(self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(e: RequestError) -> (u16, String) {
        let res = e.error_response();
        let status = res.status().as_u16();
        let bytes = res.into_body().try_into_bytes().unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn payload_errors_are_500_with_sockjs_text() {
        assert_eq!(
            body_of(PayloadError::Expected.into()),
            (500, "Payload expected.".into())
        );
        assert_eq!(
            body_of(PayloadError::BrokenJson.into()),
            (500, "Broken JSON encoding.".into())
        );
    }

    #[test]
    fn callback_errors_are_500() {
        assert_eq!(
            body_of(RequestError::CallbackRequired),
            (500, "\"callback\" parameter required".into())
        );
        assert_eq!(
            body_of(RequestError::InvalidCallback),
            (500, "invalid \"callback\" parameter".into())
        );
    }

    #[test]
    fn websocket_handshake_errors_are_400() {
        assert_eq!(
            body_of(RequestError::UpgradeRequired),
            (400, "Can \"Upgrade\" only to \"WebSocket\".".into())
        );
        assert_eq!(
            body_of(RequestError::ConnectionNotUpgrade),
            (400, "\"Connection\" must be \"Upgrade\".".into())
        );
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let res = RequestError::MethodNotAllowed("GET").error_response();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            res.headers().get("Allow").and_then(|v| v.to_str().ok()),
            Some("GET")
        );
        assert!(res.headers().get("Content-Type").is_none());
    }

    #[test]
    fn too_many_sessions_is_503() {
        assert_eq!(
            body_of(RequestError::TooManySessions),
            (503, "Too many sessions.".into())
        );
    }

    #[test]
    fn sizes_and_unknown_sessions() {
        assert_eq!(body_of(RequestError::PayloadTooLarge).0, 413);
        assert_eq!(body_of(RequestError::NotFound).0, 404);
    }
}
