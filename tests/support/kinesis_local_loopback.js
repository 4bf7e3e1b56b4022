// Preload for kinesis-local (kinesis-mock), which hard-codes 0.0.0.0 as its listen address:
// `node -r tests/support/kinesis_local_loopback.js node_modules/kinesis-local/main.js` makes every
// TCP listen() bind 127.0.0.1 instead, leaving the package untouched. With
// SHOAL_EXIT_WITH_STDIN=1 the process also exits when its standard input closes, so a test
// process that dies cannot leave it running.
'use strict';

const net = require('net');

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length > 0 && typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) {
    if (args[0].path === undefined) args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] === 'string') {
      args[1] = '127.0.0.1';
    } else {
      args.splice(1, 0, '127.0.0.1');
    }
  }
  return originalListen.apply(this, args);
};

if (process.env.SHOAL_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
