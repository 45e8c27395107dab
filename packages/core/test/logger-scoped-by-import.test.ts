import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { recordingLogger, type LoggedLine } from './recording-logger.js';

// Every line the engine logs about an import carries its import id, bound
// once: pino writes a key bound twice twice, and a log reader then sees
// `"importId":…` repeated on every line of the loader.

const database = useTestDatabase('logger_scope');
let pool: pg.Pool;
let harness: EngineHarness;
const logged: LoggedLine[] = [];

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  keepBeforeImages: true,
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
  ],
};

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query('CREATE TABLE items (sku text PRIMARY KEY, qty integer)');
  harness = await startEngineHarness(pool, [items], {
    logger: recordingLogger(logged).logger,
  });
});

afterAll(async () => {
  await harness.stop();
  await pool.end();
});

const linesOf = (importId: string) =>
  logged.filter((line) => line.scope['importId'] === importId);

describe('the logger an import is logged through', () => {
  it('binds the import id once, on the engine and the loader lines', async () => {
    const first = await harness.run({
      entity: 'items',
      format: 'csv',
      body: 'sku,qty\nA,1\nB,2\n',
    });
    const second = await harness.run({
      entity: 'items',
      format: 'csv',
      body: 'sku,qty\nA,3\nB,2\nC,oops\n',
    });
    expect(second.state).toBe('completed');
    await harness.importer.revert('acme', second.id);

    for (const record of [first, second]) {
      const lines = linesOf(record.id);
      const messages = lines.map((line) => line.message);
      // The engine's own line, and the loader's.
      expect(messages).toContain('import started');
      expect(messages.filter((m) => m === 'import applied')).toHaveLength(1);
      for (const line of lines) {
        expect({ message: line.message, rebound: line.rebound }).toEqual({
          message: line.message,
          rebound: [],
        });
        expect(line.scope).toMatchObject({ tenant: 'acme', entity: 'items' });
      }
    }
    expect(linesOf(second.id).map((line) => line.message)).toContain(
      'import reverted',
    );
  });

  it('says once, as a warning, that a bad file failed', async () => {
    // The quote is never closed: the file breaks while it is staged.
    const failed = await harness.run({
      entity: 'items',
      format: 'csv',
      body: 'sku,qty\nA,1\n"B,2\n',
    });
    expect(failed.state).toBe('failed');
    const loud = linesOf(failed.id).filter(
      (line) => line.level === 'warn' || line.level === 'error',
    );
    expect(loud.map((line) => [line.level, line.message])).toEqual([
      ['warn', 'import failed; nothing was applied'],
    ]);
  });
});
