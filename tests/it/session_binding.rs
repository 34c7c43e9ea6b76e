//! `bind_session_to_ip`: a session is used only from the address that opened it; from
//! another, it does not exist (404), for polls and sends alike, while its owner goes
//! on. Off by default. Clients leave from 127.0.0.2 and 127.0.0.3 (Linux's loopback
//! answers on all of 127.0.0.0/8).

use std::net::{IpAddr, Ipv4Addr};

use actix_sockjs::SockJsConfig;

use crate::common;
use crate::common::{client_from, session_id, text};

const OWNER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

async fn post(client: &awc::Client, url: String, body: &str) -> (u16, String) {
    let mut res = client
        .post(url)
        .send_body(body.to_owned())
        .await
        .expect("request");
    (res.status().as_u16(), text(&mut res).await)
}

#[actix_rt::test]
async fn a_bound_session_does_not_exist_for_another_address() {
    let (srv, _events) = common::server(SockJsConfig::default().bind_session_to_ip(true));
    let owner = client_from(OWNER);
    let other = client_from(OTHER);
    let base = srv.url(&format!("/echo/000/{}", session_id()));
    assert_eq!(
        post(&owner, format!("{base}/xhr"), "").await,
        (200, "o\n".into())
    );
    // Another address can neither send nor poll.
    assert_eq!(
        post(&other, format!("{base}/xhr_send"), r#"["theirs"]"#)
            .await
            .0,
        404
    );
    assert_eq!(post(&other, format!("{base}/xhr"), "").await.0, 404);
    assert_eq!(
        post(&other, format!("{base}/xhr_streaming"), "").await.0,
        404
    );
    // The owner goes on, and got nothing from the other.
    assert_eq!(
        post(&owner, format!("{base}/xhr_send"), r#"["mine"]"#)
            .await
            .0,
        204
    );
    assert_eq!(
        post(&owner, format!("{base}/xhr"), "").await,
        (200, "a[\"mine\"]\n".into())
    );
}

#[actix_rt::test]
async fn by_default_a_session_may_move_between_addresses() {
    let (srv, _events) = common::server(SockJsConfig::default());
    let first = client_from(OWNER);
    let moved = client_from(OTHER);
    let base = srv.url(&format!("/echo/000/{}", session_id()));
    assert_eq!(
        post(&first, format!("{base}/xhr"), "").await,
        (200, "o\n".into())
    );
    assert_eq!(
        post(&moved, format!("{base}/xhr_send"), r#"["moved"]"#)
            .await
            .0,
        204
    );
    assert_eq!(
        post(&moved, format!("{base}/xhr"), "").await,
        (200, "a[\"moved\"]\n".into())
    );
}
