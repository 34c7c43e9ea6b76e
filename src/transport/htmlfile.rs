//! `GET .../htmlfile?c=CALLBACK`: a forever-loading HTML page of `<script>` blocks
//! (the transport of old Internet Explorers). Each frame is one script block
//! ([`crate::protocol::htmlfile_script`]).

use actix_web::{HttpRequest, HttpResponse, http::header};
use bytes::{BufMut, Bytes, BytesMut};

use super::callback::callback;
use super::{Budget, FrameWriter, Outbound, Receiver, ReceiverBody, streaming_response};
use crate::manager::Sessions;
use crate::protocol::{Frame, htmlfile_script};
use crate::session::SockJsHandler;
use crate::vocabulary::Transport;
use crate::web::headers::transport_headers;

/// The page head, padded past 1 KiB so browsers start rendering at once.
fn prelude(callback: &str) -> Bytes {
    let head = format!(
        "<!doctype html>\n\
         <html><head>\n  \
         <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n  \
         <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n\
         </head><body><h2>Don't panic!</h2>\n  \
         <script>\n    \
         document.domain = document.domain;\n    \
         var c = parent.{callback};\n    \
         c.start();\n    \
         function p(d) {{c.message(d);}};\n    \
         window.onload = function() {{c.stop();}};\n  \
         </script>"
    );
    let mut out = BytesMut::with_capacity(head.len().max(1024) + 4);
    out.put_slice(head.as_bytes());
    if head.len() < 1024 {
        out.put_bytes(b' ', 1024 - head.len());
    }
    out.put_slice(b"\r\n\r\n");
    out.freeze()
}

/// A `<script>` block calling the parent page's callback.
fn write_frame(frame: Frame, _: &str) -> Option<Outbound> {
    Some(Outbound::Body(htmlfile_script(&frame)))
}

/// Streams frames as script blocks until `response_limit`.
pub(crate) async fn stream<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let callback = callback(req)?;
    let budget = Budget::Bytes(svc.config().response_limit.max(1));
    let (receiver, rx) = Receiver::new(FrameWriter::new(write_frame), budget);
    receiver.prelude(prelude(&callback));
    let hosted = svc
        .receive(req, session, Transport::HtmlFile, receiver)
        .await?;
    let mut res = HttpResponse::Ok();
    res.content_type("text/html; charset=UTF-8");
    res.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    transport_headers(req, svc.config(), &mut res);
    Ok(streaming_response(
        req,
        res,
        ReceiverBody::new(rx, svc.in_flight()),
        hosted,
        svc.config(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prelude_is_padded_past_one_kilobyte() {
        let p = prelude("cb");
        assert!(p.len() > 1024);
        assert!(p.ends_with(b"\r\n\r\n"));
        assert!(std::str::from_utf8(&p).is_ok_and(|s| s.contains("parent.cb;")));
    }
}
