// A TCP proxy on loopback that gives each connection a round-trip time:
// every byte takes RTT/2 each way, and nothing reaches the server before
// the RTT of the TCP handshake has passed (a client on loopback would send
// its first bytes at once). TLS passes through untouched.
//
//   node bench/delay-proxy.js --to PORT --rtt 50,150,300
//
// prints {"50":P1,"150":P2,"300":P3} (the port for each RTT in ms) on one
// line, and exits when its stdin reaches EOF.
'use strict';

const net = require('node:net');

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!o.to || !o.rtt) {
    process.stderr.write('usage: delay-proxy.js --to PORT --rtt MS[,MS...]\n');
    process.exit(2);
  }
  return { to: Number(o.to), rtts: o.rtt.split(',').map(Number) };
}

// Sends from's bytes to `to`, each `half` ms after it came (or after
// notBefore, if later), in order.
function relay(from, to, half, notBefore) {
  let last = 0;
  const at = (t) => {
    last = Math.max(last, Math.max(notBefore, t) + half);
    return last - Date.now();
  };
  from.on('data', (d) => setTimeout(() => to.write(d), at(Date.now())));
  from.on('end', () => setTimeout(() => to.end(), at(Date.now())));
}

function serve(target, rtt) {
  const server = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1');
    client.setNoDelay(true);
    up.setNoDelay(true);
    // The server hears the client's first bytes 1.5 RTT after connect().
    relay(client, up, rtt / 2, Date.now() + rtt);
    relay(up, client, rtt / 2, 0);
    const kill = () => { client.destroy(); up.destroy(); };
    client.on('error', kill);
    up.on('error', kill);
    client.on('close', () => setTimeout(() => up.destroy(), rtt));
    up.on('close', () => setTimeout(() => client.destroy(), rtt));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1',
    () => resolve(server.address().port)));
}

async function main() {
  const { to, rtts } = args(process.argv.slice(2));
  const ports = {};
  for (const r of rtts) ports[r] = await serve(to, r);
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

main();
