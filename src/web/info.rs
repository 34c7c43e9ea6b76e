//! `GET /prefix/info`: what the client needs to pick a transport.

use actix_web::{HttpRequest, HttpResponse};

use super::headers::{cors, no_cache};
use crate::config::SockJsConfig;

/// The `/info` JSON: websocket availability, the cookie requirement, the allowed
/// origins and fresh entropy (the client seeds its ids with it).
pub(crate) fn info(req: &HttpRequest, config: &SockJsConfig) -> HttpResponse {
    let entropy = uuid::Uuid::new_v4().as_u128() as u32;
    let body = serde_json::json!({
        "websocket": config.transport_enabled(crate::vocabulary::Transport::WebSocket),
        "cookie_needed": config.cookie_needed,
        "origins": config
            .allowed_origins
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "entropy": entropy,
    });
    let mut res = HttpResponse::Ok();
    res.content_type("application/json; charset=UTF-8");
    cors(req, &mut res);
    no_cache(&mut res);
    res.body(body.to_string())
}
