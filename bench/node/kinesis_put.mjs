// Baseline for `shoal bench kinesis-put`: the same workload through @aws-sdk/client-kinesis
// (NodeHttpHandler, keep-alive, no retries): PutRecords of 500 records of 200 bytes, one request
// at a time, for a bounded time and record count. Prints records/s and CPU-seconds per million
// records (this Node process's user+system CPU).
//
//   node bench/node/kinesis_put.mjs --endpoint http://127.0.0.1:PORT [--seconds 10]
//        [--records N] [--batch 500] [--record-bytes 200]
// Start the sink with: shoal bench kinesis-put --sink-only --seconds 60
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'package.json'));
const { KinesisClient, PutRecordsCommand } = require('@aws-sdk/client-kinesis');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

function parseArgs(argv) {
  const options = { endpoint: '', seconds: 10, records: 0, batch: 500, recordBytes: 200 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i];
    switch (argv[i]) {
      case '--endpoint': options.endpoint = value(); break;
      case '--seconds': options.seconds = Number(value()); break;
      case '--records': options.records = Number(value()); break;
      case '--batch': options.batch = Number(value()); break;
      case '--record-bytes': options.recordBytes = Number(value()); break;
      default:
        console.error(`kinesis_put.mjs: unknown argument ${argv[i]}`);
        process.exit(2);
    }
  }
  if (!options.endpoint) {
    console.error('kinesis_put.mjs: --endpoint is required (e.g. the null sink\'s)');
    process.exit(2);
  }
  return options;
}

function makeRecord(index, size) {
  let record = `{"id":${index},"event":"page_view","user":"user-${index % 977}","pad":"`;
  record += 'x'.repeat(Math.max(0, size - record.length - 2)) + '"}';
  return Buffer.from(record.padEnd(size, ' ').slice(0, size));
}

const options = parseArgs(process.argv.slice(2));
const client = new KinesisClient({
  region: 'us-east-1',
  endpoint: options.endpoint,
  credentials: { accessKeyId: 'AKIDBENCHMARK', secretAccessKey: 'benchmark-secret-key' },
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 1 }) }),
});

const variants = 10;
const batches = [];
for (let b = 0; b < variants; b++) {
  const entries = [];
  for (let i = 0; i < options.batch; i++) {
    const n = b * options.batch + i;
    entries.push({ Data: makeRecord(n, options.recordBytes), PartitionKey: `user-${(n * 7919) % 100003}` });
  }
  batches.push(entries);
}

const stream = 'shoal-bench';
await client.send(new PutRecordsCommand({ StreamName: stream, Records: batches[0] }));  // warm-up

let records = 0;
let failed = 0;
let calls = 0;
const cpuStart = process.cpuUsage();
const start = process.hrtime.bigint();
const deadline = start + BigInt(Math.round(options.seconds * 1e9));
while (process.hrtime.bigint() < deadline && (options.records === 0 || records < options.records)) {
  const result = await client.send(new PutRecordsCommand({ StreamName: stream, Records: batches[calls % variants] }));
  calls++;
  records += result.Records.length - (result.FailedRecordCount || 0);
  failed += result.FailedRecordCount || 0;
}
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(`node @aws-sdk/client-kinesis: PutRecords of ${options.batch} x ${options.recordBytes}-byte records, 1 at a time, endpoint ${options.endpoint}`);
console.log(`  records:            ${records} in ${calls} calls over ${elapsed.toFixed(2)} s (${failed} entries failed)`);
console.log(`  throughput:         ${Math.round(records / elapsed)} records/s`);
console.log(`  process CPU:        ${cpuSeconds.toFixed(3)} s = ${(cpuSeconds / (records / 1e6)).toFixed(3)} CPU-seconds per million records`);
client.destroy();
