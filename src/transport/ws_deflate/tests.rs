//! permessage-deflate: negotiation, and inflating within the limit.

use super::*;
use flate2::{Compress, Compression, FlushCompress};

fn settings(ask_client: bool, keep_server: bool) -> PermessageDeflate {
    PermessageDeflate::default()
        .client_no_context_takeover(ask_client)
        .server_context_takeover(keep_server)
}

fn agreed(headers: &[&str]) -> Option<Agreement> {
    negotiate(headers.iter().copied(), settings(false, true))
}

#[test]
fn a_plain_offer_is_accepted_with_no_parameters() {
    let a = agreed(&["permessage-deflate"]).expect("accepted");
    assert_eq!(a, Agreement::default());
    assert_eq!(a.header_value(), "permessage-deflate");
}

#[test]
fn what_browsers_send_is_accepted() {
    // Chromium and Firefox.
    let a = agreed(&["permessage-deflate; client_max_window_bits"]).expect("accepted");
    assert_eq!(a.header_value(), "permessage-deflate");
}

#[test]
fn each_parameter_is_answered_as_the_rfc_says() {
    let a = agreed(&[
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=\"12\"",
    ])
    .expect("accepted");
    assert!(a.server_no_context_takeover && a.client_no_context_takeover);
    assert_eq!(a.server_max_window_bits, Some(10));
    assert_eq!(
        a.header_value(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10"
    );
    // The server may ask the client to keep no context.
    let asked = negotiate(["permessage-deflate"], settings(true, true)).expect("accepted");
    assert_eq!(
        asked.header_value(),
        "permessage-deflate; client_no_context_takeover"
    );
    assert_eq!(asked.client_window(), ClientWindow::new(true, None));
    // And tell it that the server keeps none, when the service says so.
    let told = negotiate(["permessage-deflate"], settings(false, false)).expect("accepted");
    assert_eq!(
        told.header_value(),
        "permessage-deflate; server_no_context_takeover"
    );
    assert_eq!(told.client_window(), ClientWindow::new(false, None));
    // A window under 15 bits: no context, and no message longer than the window is
    // compressed (one compressed on its own refers no farther back than its length).
    let small = agreed(&["permessage-deflate; server_max_window_bits=10"]).expect("accepted");
    let window = small.client_window();
    assert_eq!(window, ClientWindow::new(false, Some(10)));
    assert!(window.compresses(1024) && !window.compresses(1025));
    assert!(!window.compresses(COMPRESS_MIN - 1));
    let large = agreed(&["permessage-deflate; server_max_window_bits=15"]).expect("accepted");
    assert!(large.client_window().compresses(1 << 20));
}

#[test]
fn offers_the_server_cannot_honour_are_declined_and_the_next_is_tried() {
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=99",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; x_unknown",
        "x-webkit-deflate-frame",
    ] {
        assert_eq!(agreed(&[bad]), None, "{bad}");
        let fallback = format!("{bad}, permessage-deflate; client_no_context_takeover");
        let a = agreed(&[&fallback]).unwrap_or_else(|| panic!("{fallback}"));
        assert!(a.client_no_context_takeover, "{fallback}");
    }
    assert_eq!(agreed(&[]), None);
    // A quoted string that does not end takes the rest of the header with it.
    assert_eq!(
        agreed(&["permessage-deflate; server_max_window_bits=\"10, permessage-deflate"]),
        None
    );
    // Offers may come in several headers.
    let a = agreed(&["foo", "permessage-deflate; server_max_window_bits=15"]);
    assert_eq!(a.and_then(|a| a.server_max_window_bits), Some(15));
}

/// Compresses `text` as a permessage-deflate sender does (raw deflate, sync flush,
/// the final 00 00 ff ff removed), keeping `compress`'s context.
fn compress(compress: &mut Compress, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    compress
        .compress_vec(text, &mut out, FlushCompress::Sync)
        .expect("compress");
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - 4);
    out
}

fn inflate(inflater: &mut Inflater, pieces: &[&[u8]], max: u64) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let mut sink = |bytes: &[u8]| -> Result<(), ()> {
        out.extend_from_slice(bytes);
        Ok(())
    };
    for piece in pieces {
        inflater
            .piece(piece, max, &mut sink)
            .map_err(unwrap_inflate)?;
    }
    inflater.finish(max, &mut sink).map_err(unwrap_inflate)?;
    Ok(out)
}

fn unwrap_inflate(e: InflateOrSink<()>) -> InflateError {
    match e {
        InflateOrSink::Inflate(e) => e,
        InflateOrSink::Sink(()) => InflateError::Corrupt,
    }
}

#[test]
fn messages_inflate_in_any_pieces_with_and_without_context_takeover() {
    for takeover in [true, false] {
        let mut compressor = Compress::new(Compression::default(), false);
        let mut inflater = Inflater::new(takeover);
        for round in 0..3 {
            if !takeover {
                compressor.reset();
            }
            let text = format!("round {round}: {}", "the same words again ".repeat(50));
            let wire = compress(&mut compressor, text.as_bytes());
            let pieces: Vec<&[u8]> = wire.chunks(7).collect();
            assert_eq!(
                inflate(&mut inflater, &pieces, 1 << 20),
                Ok(text.into_bytes()),
                "takeover {takeover}, round {round}"
            );
        }
    }
}

#[test]
fn a_bomb_is_refused_after_at_most_the_limit_of_output() {
    let mut compressor = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 8 << 20];
    let wire = compress(&mut compressor, &zeros);
    assert!(
        wire.len() < 16 << 10,
        "8 MiB of zeros compress to {}",
        wire.len()
    );
    let mut inflater = Inflater::new(true);
    let mut produced = 0u64;
    let mut sink = |bytes: &[u8]| -> Result<(), ()> {
        produced += bytes.len() as u64;
        Ok(())
    };
    let max = 64 << 10;
    assert_eq!(
        inflater.piece(&wire, max, &mut sink),
        Err(InflateOrSink::Inflate(InflateError::TooBig))
    );
    assert!(produced <= max, "{produced} bytes out before the refusal");
}

#[test]
fn without_context_takeover_a_thread_reuses_one_inflater() {
    let first = take_inflater(false);
    let at = std::ptr::addr_of!(*first);
    let busy = take_inflater(false);
    assert_ne!(
        std::ptr::addr_of!(*busy),
        at,
        "the spare is in use: a new one"
    );
    give_back_inflater(first);
    give_back_inflater(busy);
    assert_eq!(std::ptr::addr_of!(*take_inflater(false)), at);
    // With the client's context takeover, a connection keeps its own.
    let own = take_inflater(true);
    assert!(own.takeover);
    give_back_inflater(own);
    assert!(!take_inflater(false).takeover);
}

#[test]
fn garbage_is_refused() {
    let mut inflater = Inflater::new(true);
    assert_eq!(
        inflate(&mut inflater, &[&[0xff, 0xff, 0xff, 0xff]], 1 << 20),
        Err(InflateError::Corrupt)
    );
}
