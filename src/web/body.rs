//! Reading a request body with a size limit.

use std::pin::Pin;

use actix_web::{HttpRequest, http::header, web};
use bytes::BytesMut;
use futures_core::Stream;

use crate::web::RequestError;

/// Reads the whole body, refusing (413) one larger than `limit` bytes as soon as the
/// `Content-Length` or the bytes received say so.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, RequestError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(RequestError::PayloadTooLarge);
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
        let chunk = chunk.map_err(|_| RequestError::PayloadRead)?;
        if body.len() + chunk.len() > limit {
            return Err(RequestError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
