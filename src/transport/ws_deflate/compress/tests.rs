//! The thread's compression streams: every payload inflates at the client it was
//! written to, whatever the mix of broadcasts, private messages and clients; and a
//! room's members share context and compressions.

use std::collections::VecDeque;

use flate2::{Decompress, FlushDecompress};

use super::*;
use crate::transport::ws_deflate::COMPRESS_MIN;

/// A client as a browser is one: its own inflater, which keeps its window between
/// messages unless the server said it keeps no context (then it may reset it, and
/// does here, so that a message relying on context would fail).
struct Client {
    window: ClientWindow,
    inflate: Decompress,
    resets: bool,
    /// What the server has yet to write to it, in order.
    pending: VecDeque<ByteString>,
    bytes_in: usize,
    bytes_out: usize,
}

impl Client {
    fn new(context: bool, window_bits: Option<u8>) -> Self {
        let window = ClientWindow::new(context, window_bits);
        Client {
            window,
            inflate: Decompress::new(false),
            resets: !window.context,
            pending: VecDeque::new(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The server writes the next pending message to this client, which reads it.
    fn write_next(&mut self) {
        let Some(text) = self.pending.pop_front() else {
            return;
        };
        self.bytes_in += text.len();
        if !self.window.compresses(text.len()) {
            // Sent as it is: it does not enter the client's window.
            self.bytes_out += text.len();
            return;
        }
        let payload = compressed(&text, &mut self.window);
        self.bytes_out += payload.len();
        if self.resets {
            self.inflate.reset(false);
        }
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(text.len() + 64);
        let status = self
            .inflate
            .decompress_vec(&input, &mut out, FlushDecompress::Sync);
        assert!(status.is_ok(), "{status:?} for {text:?}");
        assert_eq!(
            std::str::from_utf8(&out),
            Ok(&*text),
            "what the client inflated"
        );
    }
}

/// splitmix64: the same pseudo-random schedule on every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&str; 24] = [
    "the", "room", "message", "hello", "again", "we", "should", "meet", "after", "lunch", "today",
    "server", "client", "window", "ship", "it", "tomorrow", "yes", "maybe", "later", "alice",
    "bob", "carol", "dave",
];

/// A chat line as a SockJS frame: `a["{...}"]`, about 200 bytes.
fn chat_line(mix: &mut Mix, n: u64) -> ByteString {
    let mut text = String::new();
    while text.len() < 110 {
        text.push_str(WORDS[mix.below(WORDS.len())]);
        text.push(' ');
    }
    let name = WORDS[20 + mix.below(4)];
    ByteString::from(format!(
        r#"a["{{\"type\":\"message\",\"id\":{n},\"name\":\"{name}\",\"text\":\"{text}\"}}"]"#
    ))
}

#[test]
fn every_payload_inflates_at_its_client_whatever_the_traffic() {
    for seed in 0..6 {
        let mut mix = Mix(seed);
        // Context-keeping clients, two that keep none, one with a 10-bit window.
        let mut clients: Vec<Client> = (0..14).map(|_| Client::new(true, None)).collect();
        clients.extend([Client::new(false, None), Client::new(false, None)]);
        clients.push(Client::new(true, Some(10)));
        // Three rooms of overlapping members.
        let rooms: Vec<Vec<usize>> = (0..3)
            .map(|_| (0..clients.len()).filter(|_| mix.below(2) == 0).collect())
            .collect();
        for n in 0..600 {
            match mix.below(10) {
                // A broadcast to a room: one frame shared by its members.
                0..=4 => {
                    let line = chat_line(&mut mix, n);
                    for &member in &rooms[mix.below(rooms.len())] {
                        clients[member].pending.push_back(line.clone());
                    }
                }
                // A private message, long or short.
                5 => {
                    let line = if mix.below(2) == 0 {
                        chat_line(&mut mix, n)
                    } else {
                        ByteString::from("a[\"hi\"]")
                    };
                    let to = mix.below(clients.len());
                    clients[to].pending.push_back(line);
                }
                // A long message, longer than the small window.
                6 if n % 50 == 0 => {
                    let long = ByteString::from(
                        (0..40)
                            .map(|_| chat_line(&mut mix, n).to_string())
                            .collect::<String>(),
                    );
                    for client in &mut clients {
                        client.pending.push_back(long.clone());
                    }
                }
                // Some clients' connections write what waits for them.
                _ => {
                    for _ in 0..mix.below(6) {
                        let at = mix.below(clients.len());
                        for _ in 0..=mix.below(3) {
                            clients[at].write_next();
                        }
                    }
                }
            }
        }
        for client in &mut clients {
            while !client.pending.is_empty() {
                client.write_next();
            }
        }
        let (bytes_in, bytes_out) = clients
            .iter()
            .fold((0, 0), |(i, o), c| (i + c.bytes_in, o + c.bytes_out));
        assert!(bytes_out < bytes_in, "{bytes_out} of {bytes_in}");
    }
}

#[test]
fn a_room_shares_context_and_each_line_is_compressed_once() {
    let mut mix = Mix(42);
    let mut members: Vec<Client> = (0..20).map(|_| Client::new(true, None)).collect();
    let mut on_its_own = Client::new(false, None);
    let mut payloads = Vec::new();
    let lines: Vec<ByteString> = (0..200).map(|n| chat_line(&mut mix, n)).collect();
    for line in &lines {
        assert!(line.len() >= COMPRESS_MIN);
        // Members write the line in a different order each time.
        let count = members.len();
        let first = mix.below(count);
        for k in 0..count {
            let member = &mut members[(first + k) % count];
            member.pending.push_back(line.clone());
            let before = member.window;
            member.write_next();
            let payload = compressed(line, &mut before.clone());
            if !payloads
                .iter()
                .any(|p: &Bytes| p.as_ptr() == payload.as_ptr())
            {
                payloads.push(payload);
            }
        }
        on_its_own.pending.push_back(line.clone());
        on_its_own.write_next();
    }
    // The first line is compressed on its own, once; each later one once, in context.
    assert_eq!(payloads.len(), lines.len(), "compressions");
    let member = &members[0];
    assert!(
        member.bytes_out * 2 < member.bytes_in,
        "in context: {} of {} bytes",
        member.bytes_out,
        member.bytes_in
    );
    assert!(
        on_its_own.bytes_out * 10 > member.bytes_out * 15,
        "on its own {} bytes, in context {}",
        on_its_own.bytes_out,
        member.bytes_out
    );
}

#[test]
fn a_newcomer_out_of_step_gets_a_line_on_its_own_and_then_keeps_step() {
    let mut mix = Mix(7);
    let mut old = Client::new(true, None);
    for n in 0..20 {
        old.pending.push_back(chat_line(&mut mix, n));
        old.write_next();
    }
    let mut newcomer = Client::new(true, None);
    for n in 20..40 {
        let line = chat_line(&mut mix, n);
        // The newcomer first, then the old member: both inflate it.
        for client in [&mut newcomer, &mut old] {
            client.pending.push_back(line.clone());
            client.write_next();
        }
        // From the second line on, both are in step with the same message.
        if n > 20 {
            assert_eq!(newcomer.window.in_step_with, old.window.in_step_with);
        }
    }
}
