// The measured side of upload-memory.ts, run as a plain `node` process
// (bundled first) so that no TypeScript loader shares its memory. It
// uploads one file and prints its own peak RSS as JSON.

import { createClient } from '../src/node.js';

const [baseUrl, path] = process.argv.slice(2);
if (!baseUrl || !path) throw new Error('usage: BASE_URL PATH');

const client = createClient({ baseUrl, token: 'memory' });
const before = process.memoryUsage.rss();
const started = Date.now();
const record = await client.imports.create({ entity: 'customers', file: path });

process.stdout.write(
  JSON.stringify({
    receivedBytes: record.byteSize,
    seconds: (Date.now() - started) / 1000,
    rssBeforeBytes: before,
    // The kernel's high-water mark for this process.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  }) + '\n',
);
