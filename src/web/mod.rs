//! The plain HTTP parts of a SockJS service: greeting, `/info`, the iframe page, and the
//! headers (CORS, caching, JSESSIONID) every transport shares.

pub(crate) mod body;
pub(crate) mod greeting;
pub(crate) mod headers;
pub(crate) mod iframe;
pub(crate) mod info;
pub(crate) mod request_error;
pub(crate) mod socket_options;
pub(crate) mod stats_endpoint;

pub(crate) use request_error::RequestError;
