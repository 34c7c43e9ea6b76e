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
        if (rec.opened) { return { id: id, transport: rec.transport }; }
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
