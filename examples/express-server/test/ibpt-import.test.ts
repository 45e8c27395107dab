import type pg from 'pg';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';

// The IBPT tax-rate table of São Paulo (Windows-1252, `;`, dd/MM/yyyy,
// codes with leading zeros), uploaded over HTTP to the example server and
// imported by its worker into ibpt_tax_rates; then uploaded again.

const database = useTestDatabase('ibpt_import');
const file = sharedData('TabelaIBPTaxSP23.2.A.csv');

let example: RunningExample;
let pool: pg.Pool;

beforeAll(async () => {
  example = await startExample(database.url);
  pool = example.host.pool;
});

afterAll(async () => {
  await example?.close();
});

async function row(codigo: string): Promise<Record<string, string>> {
  const result = await pool.query(
    `SELECT codigo, ex, tipo, descricao, nacionalfederal::text,
            importadosfederal::text, vigenciainicio::text,
            vigenciafim::text
       FROM ibpt_tax_rates
      WHERE tenant_id = 'tenant-a' AND codigo = $1 AND ex = '' AND tipo = '0'`,
    [codigo],
  );
  expect(result.rows).toHaveLength(1);
  return result.rows[0] as Record<string, string>;
}

describe('the IBPT table through HTTP', () => {
  it('inserts all 12,096 records on the first import', async () => {
    const accepted = await example.upload(file, 'ibpt_tax_rates');
    expect(accepted.state).toBe('queued');

    const record = await example.finish(accepted.id);
    expect(record.state).toBe('completed');
    expect(record.detected).toEqual({
      encoding: 'windows-1252',
      delimiter: ';',
    });
    expect(record.counts).toMatchObject({
      read: 12_096,
      inserted: 12_096,
      updated: 0,
      unchanged: 0,
      rejected: 0,
    });
    expect((await example.errors(accepted.id)).items).toEqual([]);

    const count = await pool.query(
      "SELECT count(*)::int AS n FROM ibpt_tax_rates WHERE tenant_id = 'tenant-a'",
    );
    expect(count.rows[0].n).toBe(12_096);
  });

  it('decodes Windows-1252: the dash and the ellipsis', async () => {
    expect((await row('03049211')).descricao).toBe(
      'Outros carnes de merluzas negras, congeladas \u2013 bochechas (cheeks)',
    );
    expect((await row('03023500')).descricao).toBe(
      'Atuns azuis (thunnus thinnus (\u2026)',
    );
    const replaced = await pool.query(
      "SELECT count(*)::int AS n FROM ibpt_tax_rates WHERE descricao LIKE '%\uFFFD%'",
    );
    expect(replaced.rows[0].n).toBe(0);
  });

  it('keeps the leading zeros of codigo', async () => {
    expect((await row('00000000')).descricao).toBe(
      'PRODUTO NAO ESPECIFICADO NA LISTA DE NCM',
    );
  });

  it('reads the dates as dates and the rates exactly', async () => {
    expect(await row('01012100')).toMatchObject({
      vigenciainicio: '2023-07-20',
      vigenciafim: '2023-08-31',
      nacionalfederal: '13.45',
      importadosfederal: '15.45',
    });
  });

  it('leaves everything unchanged when the file comes again', async () => {
    const accepted = await example.upload(file, 'ibpt_tax_rates');
    const record = await example.finish(accepted.id);
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 12_096,
      inserted: 0,
      updated: 0,
      unchanged: 12_096,
      rejected: 0,
    });
    const count = await pool.query(
      'SELECT count(*)::int AS n FROM ibpt_tax_rates',
    );
    expect(count.rows[0].n).toBe(12_096);
  });
});
