//! `GET /prefix` and `GET /prefix/`.

use actix_web::HttpResponse;

/// The greeting every SockJS server answers at its prefix.
pub(crate) fn greeting() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=UTF-8")
        .body("Welcome to SockJS!\n")
}
