//! The smallest SockJS server: echoes every message back.
//!
//! `cargo run --example echo`, then point sockjs-client at http://127.0.0.1:8080/echo.
use actix_sockjs::{SessionContext, SockJs, SockJsHandler};
use actix_web::{App, HttpServer};

struct Echo;

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SessionContext<'_, Self>) {
        session.send(&msg);
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let echo = SockJs::new("/echo", || Echo);
    HttpServer::new(move || App::new().service(echo.clone()))
        .bind(("127.0.0.1", 8080))?
        .run()
        .await
}
