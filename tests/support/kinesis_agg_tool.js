#!/usr/bin/env node
// The aws-kinesis-agg npm package (awslabs' Node encoder/decoder of the KPL aggregated record
// format) behind stdin/stdout JSON, so shoal's C++ tests can check their format against a
// real peer in both directions.
//
// Input (stdin): a JSON array of jobs; output (stdout): a JSON array of results, same order.
//   {"op":"aggregate","records":[{"partitionKey":"k","explicitHashKey":"123"?,"data":"<base64>"}]}
//     -> {"partitionKey":"k","explicitHashKey":"..."|null,"data":"<base64 of the aggregated record>"}
//   {"op":"deaggregate","partitionKey":"k","data":"<base64>"}
//     -> {"records":[{"partitionKey":"k","explicitHashKey":"..."|null,"subSequenceNumber":0|null,
//                     "data":"<base64>"}]}  or  {"error":"message"}
'use strict';

const path = require('path');

function requireTool(name) {
  const dirs = [path.join(__dirname, '..', '..', 'node_modules'),
                ...(process.env.NODE_PATH ? process.env.NODE_PATH.split(path.delimiter) : [])];
  for (const dir of dirs) {
    try {
      return require(path.join(dir, name));
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  process.stderr.write(`kinesis_agg_tool: cannot find '${name}'; run 'npm ci' in the repository root\n`);
  process.exit(2);
}

const agg = requireTool('aws-kinesis-agg');

function aggregate(job) {
  const aggregator = new agg.RecordAggregator();
  for (const r of job.records) {
    const record = { partitionKey: r.partitionKey, data: Buffer.from(r.data, 'base64') };
    if (r.explicitHashKey) record.explicitHashKey = r.explicitHashKey;
    aggregator.addUserRecord(record);
  }
  const encoded = aggregator.build();
  return {
    partitionKey: encoded.partitionKey,
    explicitHashKey: encoded.ExplicitHashKey === undefined ? null : encoded.ExplicitHashKey,
    data: encoded.data.toString('base64'),
  };
}

function deaggregate(job) {
  let result = null;
  agg.deaggregateSync({ partitionKey: job.partitionKey, data: job.data, sequenceNumber: '1' }, true,
    (err, records) => {
      if (err) {
        result = { error: String(err.message || err) };
        return;
      }
      result = {
        records: records.map((r) => ({
          partitionKey: r.partitionKey,
          explicitHashKey: r.explicitPartitionKey === undefined ? null : r.explicitPartitionKey,
          subSequenceNumber: r.subSequenceNumber === undefined ? null : r.subSequenceNumber,
          data: r.data,
        })),
      };
    });
  return result;
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const jobs = JSON.parse(input);
  const results = jobs.map((job) => {
    try {
      if (job.op === 'aggregate') return aggregate(job);
      if (job.op === 'deaggregate') return deaggregate(job);
      return { error: `unknown op ${job.op}` };
    } catch (e) {
      return { error: String(e.message || e) };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
