//! The `c` callback parameter of jsonp and htmlfile.

use actix_web::HttpRequest;
use bytestring::ByteString;

use crate::web::RequestError;

/// The validated callback name of a request. A name outside `[a-zA-Z0-9_.-]` is refused
/// without being echoed, so it cannot inject script into the response.
pub(crate) fn callback(req: &HttpRequest) -> Result<ByteString, RequestError> {
    let query = req.query_string();
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("c="))
        .ok_or(RequestError::CallbackRequired)?;
    let name = percent_decode(raw).ok_or(RequestError::InvalidCallback)?;
    if name.is_empty() {
        return Err(RequestError::CallbackRequired);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(RequestError::InvalidCallback);
    }
    Ok(ByteString::from(name))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn cb(query: &str) -> Result<ByteString, RequestError> {
        callback(
            &TestRequest::get()
                .uri(&format!("/x?{query}"))
                .to_http_request(),
        )
    }

    #[test]
    fn plain_names_pass() {
        assert_eq!(cb("c=x").as_deref(), Ok("x"));
        assert_eq!(cb("a=1&c=window.cb_1-2").as_deref(), Ok("window.cb_1-2"));
        assert_eq!(cb("c=%61bc").as_deref(), Ok("abc"));
    }

    #[test]
    fn missing_or_empty_is_required() {
        assert_eq!(cb("d=x"), Err(RequestError::CallbackRequired));
        assert_eq!(cb("c="), Err(RequestError::CallbackRequired));
    }

    #[test]
    fn anything_else_is_invalid() {
        for q in [
            "c=%20",
            "c=a(b)",
            "c=%3Cscript%3E",
            "c=a%22",
            "c=%zz",
            "c=a+b",
        ] {
            assert_eq!(cb(q), Err(RequestError::InvalidCallback), "{q}");
        }
    }
}
