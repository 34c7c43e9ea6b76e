/*
 * The in-page half of the browser tests: `window.H`, loaded into every test page
 * (tests/browser/page.html on the static origin, and the server's own
 * /echo/iframe.html for the same-origin htmlfile run).
 *
 * Why it exists: a SockJS object cannot cross page.evaluate, so the page keeps the
 * sockets in a table and the node side (run.mjs) refers to them by number. Every
 * function that waits takes its own deadline in milliseconds and rejects, with what
 * the socket saw so far, when nothing happened in time: a wait here is for an event
 * of the socket (open, message, close), never a fixed pause.
 *
 * Plain ES5 on purpose: it runs unchanged in any page whatever else that page loads.
 */
(function () {
  'use strict';

  var sockets = {};
  var nextId = 1;

  function summary(rec) {
    var seen = rec.inbox.length + ' unread message(s)';
    if (rec.inbox.length) {
      seen += ' (first: ' + JSON.stringify(rec.inbox[0]).slice(0, 120) + ')';
    }
    return 'transport=' + rec.transport + ', opened=' + rec.opened + ', ' + seen +
      ', close=' + (rec.closed ? JSON.stringify(rec.closed) : 'none');
  }

  // Resolves with ready()'s first non-undefined answer, re-asked after every event
  // of the socket; rejects after `ms` without one.
  function waitFor(rec, ready, ms, what) {
    return new Promise(function (resolve, reject) {
      var timer = null;
      var check = function () {
        var answer;
        try {
          answer = ready();
        } catch (e) {
          finish();
          reject(e);
          return;
        }
        if (answer !== undefined) {
          finish();
          resolve(answer);
        }
      };
      function finish() {
        clearTimeout(timer);
        var at = rec.waiters.indexOf(check);
        if (at >= 0) { rec.waiters.splice(at, 1); }
      }
      timer = setTimeout(function () {
        finish();
        reject(new Error(what + ': nothing within ' + ms + ' ms; ' + summary(rec)));
      }, ms);
      rec.waiters.push(check);
      check();
    });
  }

  function changed(rec) {
    rec.waiters.slice().forEach(function (check) { check(); });
  }

  function record(id) {
    var rec = sockets[id];
    if (!rec) { throw new Error('no socket ' + id + ' in this page'); }
    return rec;
  }

  window.H = {
    // Opens a SockJS connection (transports: null for the client's own choice, else
    // a list) and resolves with {id, transport} on `open`; rejects with the close
    // code and reason if it closes first.
    open: function (url, transports, ms) {
      var options = transports ? { transports: transports } : {};
      var sock = new SockJS(url, null, options);
      var id = nextId++;
      var rec = { sock: sock, opened: false, transport: null, inbox: [], closed: null, waiters: [] };
      sockets[id] = rec;
      sock.onopen = function () {
        rec.opened = true;
        rec.transport = sock.transport;
        // The websocket extensions the browser agreed to (sockjs-client keeps the
        // native WebSocket of its websocket transport as `_transport.ws`).
        var native = sock._transport && sock._transport.ws;
        rec.extensions = (native && native.extensions) || '';
        changed(rec);
      };
      sock.onmessage = function (e) {
        rec.inbox.push(e.data);
        changed(rec);
      };
      sock.onclose = function (e) {
        rec.closed = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        changed(rec);
      };
      return waitFor(rec, function () {
        if (rec.opened) { return { id: id, transport: rec.transport, extensions: rec.extensions }; }
        if (rec.closed) {
          throw new Error('closed before open: ' + rec.closed.code + ' ' + rec.closed.reason);
        }
        return undefined;
      }, ms, 'open ' + url);
    },

    send: function (id, messages) {
      var rec = record(id);
      messages.forEach(function (m) { rec.sock.send(m); });
      return messages.length;
    },

    // The next `n` messages, in arrival order, removed from the inbox.
    receive: function (id, n, ms) {
      var rec = record(id);
      return waitFor(rec, function () {
        if (rec.inbox.length >= n) { return rec.inbox.splice(0, n); }
        if (rec.closed) {
          throw new Error('closed after ' + rec.inbox.length + ' of ' + n + ' messages; ' + summary(rec));
        }
        return undefined;
      }, ms, 'receive ' + n);
    },

    // Resolves with every message received so far once `wanted` is among them.
    receiveIncluding: function (id, wanted, ms) {
      var rec = record(id);
      return waitFor(rec, function () {
        if (rec.inbox.indexOf(wanted) >= 0) { return rec.inbox.slice(); }
        if (rec.closed) { throw new Error('closed before ' + JSON.stringify(wanted)); }
        return undefined;
      }, ms, 'receive ' + JSON.stringify(wanted));
    },

    // Sends every UTF-16 code unit 0x0000-0xFFFF, `size` consecutive units a message,
    // one message at a time, and compares each echo with what was sent. Built and
    // compared here in the page, so the strings (lone surrogates among them) never
    // cross page.evaluate. A lone surrogate cannot be part of a Rust string: the
    // server reads it as U+FFFD, what String.prototype.toWellFormed() gives, so that
    // is the expected echo; for every other string it is the string itself. Resolves
    // with {sent, lone, mismatches: [first few differences]}.
    echoCodeUnits: function (id, size, ms) {
      var rec = record(id);
      var result = { sent: 0, lone: 0, mismatches: [] };
      var start = 0;
      function wellFormed(s) {
        var out = '';
        for (var i = 0; i < s.length; i++) {
          var c = s.charCodeAt(i);
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
              s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
            out += s.charAt(i) + s.charAt(i + 1);
            i++;
          } else if (c >= 0xd800 && c <= 0xdfff) {
            out += '\ufffd';
            result.lone++;
          } else {
            out += s.charAt(i);
          }
        }
        return out;
      }
      function describe(got, want, from) {
        var at = 0;
        while (at < got.length && got.charCodeAt(at) === want.charCodeAt(at)) { at++; }
        return 'chunk from U+' + from.toString(16) + ': ' + got.length + ' units, want ' +
          want.length + '; first difference at ' + at + ' (got ' +
          (at < got.length ? got.charCodeAt(at).toString(16) : 'end') + ', want ' +
          (at < want.length ? want.charCodeAt(at).toString(16) : 'end') + ')';
      }
      function next() {
        if (start > 0xffff) { return Promise.resolve(result); }
        var from = start;
        var units = [];
        for (var u = from; u < from + size && u <= 0xffff; u++) { units.push(u); }
        start = from + size;
        var s = String.fromCharCode.apply(null, units);
        var want = wellFormed(s);
        rec.sock.send(s);
        result.sent++;
        return window.H.receive(id, 1, ms).then(function (got) {
          if (got[0] !== want && result.mismatches.length < 5) {
            result.mismatches.push(describe(got[0], want, from));
          }
          return next();
        });
      }
      return next();
    },

    // Closes from the client side and resolves with the close event's fields.
    close: function (id, ms) {
      var rec = record(id);
      rec.sock.close();
      return window.H.closed(id, ms);
    },

    // Resolves with the close event's fields once the socket has closed.
    closed: function (id, ms) {
      var rec = record(id);
      return waitFor(rec, function () {
        return rec.closed ? { code: rec.closed.code, reason: rec.closed.reason, transport: rec.transport } : undefined;
      }, ms, 'close');
    }
  };
}());
