// The outage switch of the main listener: DHIS2 down (connections refused)
// or wedged (connections accepted, requests never answered), so the tests
// of offline sign-in can take the server away and bring it back.
'use strict';

const MODES = ['off', 'refuse', 'hang'];

class Outage {
  // server: the main listener, already listening on host:port.
  constructor(server, host, port) {
    this.server = server;
    this.host = host;
    this.port = port;
    this.mode = 'off';
    this.sockets = new Set(); // every accepted socket, to cut on refuse
    this.hung = new Set(); // requests held by hang
    server.on('connection', (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
  }

  // True when the request must go unanswered: it is held until the mode
  // changes, then its connection is cut.
  holds(res) {
    if (this.mode !== 'hang') return false;
    this.hung.add(res);
    res.on('close', () => this.hung.delete(res));
    return true;
  }

  // Resolves once the listener is as mode says; rejects if the port cannot
  // be listened on again.
  async set(mode) {
    if (!MODES.includes(mode)) throw new Error(`mode must be one of ${MODES}`);
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    if (mode === 'refuse' && this.server.listening) {
      // A server that is down drops the connections it had too: a client
      // that kept one open must not be answered on it.
      const closed = new Promise((resolve) => this.server.close(resolve));
      for (const sock of this.sockets) sock.destroy();
      await closed;
    } else if (mode !== 'refuse' && !this.server.listening) {
      await new Promise((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.port, this.host, () => {
          this.server.removeListener('error', reject);
          resolve();
        });
      });
    }
    this.mode = mode;
  }
}

module.exports = { Outage, MODES };
