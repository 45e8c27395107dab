import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from '@erp-import/example-express-server/test-harness';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `erp-import push <file> --gzip` against the example server with a small
// ERP_IMPORT_MAX_UPLOAD_BYTES. The compressed body has no Content-Length,
// so the limit trips mid-stream; that once killed the server before it
// answered, and the CLI said "the connection was lost before the
// answer". It must print the 413, and the server must take the next one.

const database = useTestDatabase('sdk_client_gzip_over_limit');
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
// 1.8 MB of CSV, some 300 KB gzipped: well past either limit.
const ibpt = sharedData('TabelaIBPTaxSP23.2.A.csv');

let folder: string;
let small: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'sdk-cli-gzip-'));
  small = join(folder, 'few-customers.csv');
  await writeFile(small, 'customerID,companyName\nALFKI,Alfreds\n');
});

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function erpImport(
  stack: RunningExample,
  token: string,
  args: string[],
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [tsx, '--conditions=source', main, ...args],
      {
        env: {
          PATH: process.env.PATH,
          ERP_IMPORT_URL: stack.baseUrl,
          ERP_IMPORT_TOKEN: token,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? error.code : 0;
        if (typeof code !== 'number') {
          reject(error ?? new Error('the CLI did not exit'));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// One tenant per limit, as both servers share the database.
describe.each([
  { limit: 5000, token: 'token-a', tenant: 'tenant-a' },
  { limit: 20_000, token: 'token-b', tenant: 'tenant-b' },
])(
  'erp-import push --gzip over a limit of $limit bytes',
  ({ limit, token, tenant }) => {
    let stack: RunningExample;

    beforeAll(async () => {
      stack = await startExample(
        database.url,
        { kind: 'pg' },
        { maxUploadBytes: limit },
      );
    });

    afterAll(async () => {
      await stack?.close();
    });

    it('prints the 413, exits 1, and the server takes the next upload', async () => {
      const started = Date.now();
      const refused = await erpImport(stack, token, [
        'push',
        ibpt,
        '--entity',
        'ibpt_tax_rates',
        '--gzip',
      ]);
      expect(refused.stderr).not.toContain('connection was lost');
      expect(refused.stderr).toContain('413');
      expect(refused.stderr).toContain('PAYLOAD_TOO_LARGE');
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      // The server reads on after its 413 so that the answer arrives
      // whole; the client must stop sending then, not wait out its 30 s
      // idle timeout.
      expect(Date.now() - started).toBeLessThan(20_000);

      const next = await erpImport(stack, token, [
        'push',
        small,
        '--entity',
        'customers',
        '--gzip',
        '--wait',
        '--interval',
        '100',
      ]);
      expect(next.stderr).toBe('');
      expect(next.code).toBe(0);
      expect(next.stdout).toContain('read 1, inserted 1');

      const { rows } = await stack.host.pool.query(
        'SELECT count(*)::int AS n FROM erp_import.imports WHERE tenant = $1',
        [tenant],
      );
      expect(rows[0].n).toBe(1);
    });
  },
);
