// Preloaded into every test process (scripts/test.mjs passes `--require ./test/loopback-guard.cjs`): any attempt to
// open a TCP connection to a host other than this machine's loopback throws at once, so a test that forgot to point a
// client (discord.js, Bolt, the model hub, ...) at a fake fails loudly instead of reaching, or hanging on, the internet.
// Servers are unaffected (listening is not connecting) and so are Unix sockets and child processes such as ffmpeg.
// Plain CommonJS because `--require` runs before tsx is loaded.
'use strict';

const net = require('node:net');

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);

function isLoopbackHost(host) {
  if (LOOPBACK_NAMES.has(host)) return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const mapped = bare.toLowerCase().startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  if (net.isIPv4(mapped)) return mapped.split('.')[0] === '127';
  if (net.isIPv6(bare)) return bare === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(bare);
  return false;
}

// Socket#connect accepts (options[, cb]), (port[, host][, cb]) and (path[, cb]), and internally an array of those
// arguments (from net.connect). Return the destination or null for a Unix socket / named pipe.
function destinationOf(args) {
  let first = args[0];
  if (Array.isArray(first)) first = first[0];
  if (first !== null && typeof first === 'object') {
    if (first.path) return null; // net treats a truthy `path` as a Unix socket; http passes `path: null`
    return { host: first.host ?? 'localhost', port: first.port };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return null;
  const second = Array.isArray(args[0]) ? args[0][1] : args[1];
  return { host: typeof second === 'string' ? second : 'localhost', port: first };
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const destination = destinationOf(args);
  if (destination !== null && !isLoopbackHost(String(destination.host))) {
    const error = new Error(
      `loopback-guard: blocked a connection to ${destination.host}:${destination.port}. Tests may only connect to ` +
        '127.0.0.1, ::1 or localhost; point the client at a fake (test/fakes/) instead.',
    );
    error.code = 'ERR_LOOPBACK_GUARD';
    process.stderr.write(`${error.message}\n`);
    throw error;
  }
  return originalConnect.apply(this, args);
};
