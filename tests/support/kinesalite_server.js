#!/usr/bin/env node
// Starts kinesalite (in memory) for shoal's tests, differing from its own command-line tool in
// three ways:
//  - it listens on 127.0.0.1 only (the CLI listens on every interface);
//  - it survives a client that closes the connection mid-request (the CLI's request handler
//    rethrows the socket's 'aborted'/ECONNRESET error and the whole process exits);
//  - state changes take 0 ms and the shard limit is 1000 unless told otherwise.
// When listening it prints one line, `kinesalite listening on 127.0.0.1:<port>`, to stdout.
// With --port 0 (the default) the system picks a free port. With --exit-with-stdin it exits when
// its standard input closes, so a test process that dies cannot leave it running.
//
// Usage: node kinesalite_server.js [--port N] [--createStreamMs MS] [--deleteStreamMs MS]
//          [--updateStreamMs MS] [--shardLimit N] [--ssl --key F --cert F --ca F] [--exit-with-stdin]
'use strict';

const fs = require('fs');
const path = require('path');

const moduleDirs = [
  path.join(__dirname, '..', '..', 'node_modules'),
  ...(process.env.NODE_PATH ? process.env.NODE_PATH.split(path.delimiter) : []),
];

function requireTool(name) {
  for (const dir of moduleDirs) {
    try {
      return require(path.join(dir, name));
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  process.stderr.write(`kinesalite_server: cannot find the '${name}' package; run 'npm ci' in the repository root\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    port: 0,
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) {
        process.stderr.write(`kinesalite_server: ${arg} needs a value\n`);
        process.exit(2);
      }
      return argv[++i];
    };
    switch (arg) {
      case '--port': options.port = Number(next()); break;
      case '--createStreamMs': options.createStreamMs = Number(next()); break;
      case '--deleteStreamMs': options.deleteStreamMs = Number(next()); break;
      case '--updateStreamMs': options.updateStreamMs = Number(next()); break;
      case '--shardLimit': options.shardLimit = Number(next()); break;
      case '--ssl': options.ssl = true; break;
      case '--key': options.key = fs.readFileSync(next()); break;
      case '--cert': options.cert = fs.readFileSync(next()); break;
      case '--ca': options.ca = fs.readFileSync(next()); break;
      case '--exit-with-stdin': options.exitWithStdin = true; break;
      default:
        process.stderr.write(`kinesalite_server: unknown argument ${arg}\n`);
        process.exit(2);
    }
  }
  return options;
}

// kinesalite's handler does `req.on('error', err => { throw err })`; an aborted upload then
// surfaces here. Only those client-side socket errors are swallowed; anything else still exits.
function isClientAbort(err) {
  return err && (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ECONNABORTED' ||
                 err.message === 'aborted');
}
process.on('uncaughtException', (err) => {
  if (isClientAbort(err)) return;
  process.stderr.write(`kinesalite_server: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

const options = parseArgs(process.argv.slice(2));
const kinesalite = requireTool('kinesalite');
const server = kinesalite(options);
server.on('clientError', (err, socket) => socket.destroy());

server.listen(options.port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`kinesalite listening on 127.0.0.1:${address.port}\n`);
});

// The store is in memory, so there is nothing to flush: exit at once.
function stop() {
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (options.exitWithStdin) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
