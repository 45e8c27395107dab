// Uploads a generated 200 MB file through the client to a local server
// that throws the body away, and prints the client's peak memory, which
// must stay under 100 MB: the upload streams, whatever the file's size.
//
//   npx tsx --conditions=source packages/sdk-client/scripts/upload-memory.ts [MB]
//
// The client runs in a child process of plain `node`, from a bundle made
// here with esbuild (tsup's bundler): under tsx its loader thread alone
// would add some 30 MB that are not the client's.

import { emptyCounts } from '@erp-import/core';
import type { PublicImportRecord } from '@erp-import/core/contract';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const megabytes = Number(process.argv[2] ?? 200);
const limitBytes = 100 * 1024 * 1024;
const clientEntry = fileURLToPath(
  new URL('./upload-memory-client.ts', import.meta.url),
);

interface ClientReport {
  receivedBytes: number;
  seconds: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
}

/** Counts the bytes of each upload and answers a record with the count. */
async function startDiscardingServer() {
  const server = createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on('end', () => {
      const record: PublicImportRecord = {
        id: 'memory-check',
        tenant: 'memory',
        entity: 'customers',
        format: 'csv',
        state: 'queued',
        fileName: null,
        submittedBy: null,
        idempotencyKey: null,
        byteSize: bytes,
        checksum: '',
        options: {},
        detected: {},
        counts: emptyCounts(),
        progress: {
          bytesRead: 0,
          bytesTotal: bytes,
          recordsRead: 0,
          recordsRejected: 0,
          phase: 'waiting',
          updatedAt: new Date().toISOString(),
        },
        failure: null,
        attempts: 0,
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
      };
      response.writeHead(202, { 'content-type': 'application/json' });
      response.end(JSON.stringify(record));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** A CSV file of `size` bytes, written one megabyte at a time. */
async function generateFile(path: string, size: number): Promise<void> {
  const lines: string[] = ['customerID,companyName,city'];
  for (let length = 0, i = 0; length < 1024 * 1024; i++) {
    const line = `C${i},Company number ${i},Some city ${i % 97}`;
    lines.push(line);
    length += line.length + 1;
  }
  const block = Buffer.from(lines.join('\n') + '\n');

  const file = await open(path, 'w');
  try {
    for (let written = 0; written < size; written += block.length) {
      await file.write(block, 0, Math.min(block.length, size - written));
    }
  } finally {
    await file.close();
  }
}

const folder = await mkdtemp(join(tmpdir(), 'erp-import-memory-'));
const server = await startDiscardingServer();
try {
  const path = join(folder, 'large.csv');
  const size = megabytes * 1024 * 1024;
  await generateFile(path, size);

  const bundle = join(folder, 'client.mjs');
  await build({
    entryPoints: [clientEntry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    conditions: ['source'],
    logLevel: 'warning',
  });

  const { port } = server.address() as AddressInfo;
  const { stdout } = await promisify(execFile)(process.execPath, [
    bundle,
    `http://127.0.0.1:${port}`,
    path,
  ]);
  const report = JSON.parse(stdout) as ClientReport;

  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  console.log(`uploaded ${mb(size)} in ${report.seconds.toFixed(1)} s`);
  console.log(`server received ${mb(report.receivedBytes)}`);
  console.log(`client RSS before the upload ${mb(report.rssBeforeBytes)}`);
  console.log(`client peak RSS ${mb(report.peakRssBytes)}`);

  if (report.receivedBytes !== size) {
    console.error('FAIL: the server did not receive every byte');
    process.exitCode = 1;
  }
  if (report.peakRssBytes >= limitBytes) {
    console.error(`FAIL: the peak is over ${mb(limitBytes)}`);
    process.exitCode = 1;
  } else {
    console.log(`OK: under ${mb(limitBytes)}`);
  }
} finally {
  server.close();
  await rm(folder, { recursive: true, force: true });
}
