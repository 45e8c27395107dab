import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';
import { importThroughHttp } from './json-xml-upload.js';

// A real NF-e (layout 4.00, 41 items) through HTTP, the queue and a
// worker into nfe_invoices and nfe_invoice_items: one invoice keyed by
// its 44-digit access key, 41 items whose quantities and unit prices are
// the file's digits, both tables written in one transaction.

const database = useTestDatabase('nfe_invoice_import');
const file = sharedData('nfe-35180834128745000152550010000476861118934859.xml');
const accessKey = '35180834128745000152550010000476861118934859';

let example: RunningExample;

beforeAll(async () => {
  example = await startExample(database.url);
});

afterAll(async () => {
  await example?.close();
});

const sendInvoice = () =>
  importThroughHttp(example, {
    path: file,
    entity: 'nfe_invoices',
    format: 'xml',
  });

/**
 * A value as a numeric(p, scale) column writes it: the file's digits,
 * zeros added up to the scale. Fails if the scale would lose a digit.
 */
function atScale(written: string, scale: number): string {
  const [whole, fraction = ''] = written.split('.');
  expect(fraction.length).toBeLessThanOrEqual(scale);
  return scale === 0 ? `${whole}` : `${whole}.${fraction.padEnd(scale, '0')}`;
}

describe('NF-e invoice through HTTP', () => {
  it('imports 1 invoice and its 41 items, counted per entity', async () => {
    const record = await sendInvoice();
    expect(record.failure).toBeNull();
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 42,
      inserted: 42,
      rejected: 0,
      entities: {
        nfe_invoices: { read: 1, inserted: 1, rejected: 0 },
        nfe_invoice_items: { read: 41, inserted: 41, rejected: 0 },
      },
    });
    expect(record.detected.encoding).toBe('utf-8');
    expect((await example.errors(record.id)).items).toEqual([]);
  });

  it('stores the invoice under its access key and issuer CNPJ', async () => {
    const result = await example.host.pool.query(
      `SELECT access_key, issuer_cnpj, number, series, model,
              issued_at = '2018-08-17T15:28:31-03:00' AS issued_at_exact,
              recipient_cnpj, invoice_total::text, products_total::text
         FROM nfe_invoices WHERE tenant_id = 'tenant-a'`,
    );
    expect(result.rows).toEqual([
      {
        access_key: accessKey,
        issuer_cnpj: '34128745000152',
        number: 47686,
        series: 1,
        model: '55',
        issued_at_exact: true,
        recipient_cnpj: '95398560000152',
        invoice_total: '3251.92',
        products_total: '3115.23',
      },
    ]);
  });

  it('stores items 1 to 41 with the exact quantities and unit prices', async () => {
    // The file's own digits, found without the reader.
    const text = readFileSync(file, 'utf8');
    const written = [
      ...text.matchAll(/<det nItem="(\d+)">([\s\S]*?)<\/det>/g),
    ].map(([, item, block]) => ({
      item: Number(item),
      code: /<cProd>([^<]*)<\/cProd>/.exec(block ?? '')?.[1],
      quantity: /<qCom>([^<]*)<\/qCom>/.exec(block ?? '')?.[1] ?? '',
      unitPrice: /<vUnCom>([^<]*)<\/vUnCom>/.exec(block ?? '')?.[1] ?? '',
    }));
    expect(written).toHaveLength(41);

    const result = await example.host.pool.query(
      `SELECT item_number, product_code, quantity::text, unit_price::text
         FROM nfe_invoice_items
        WHERE tenant_id = 'tenant-a' AND access_key = $1
        ORDER BY item_number`,
      [accessKey],
    );
    expect(result.rows.map((row) => row.item_number)).toEqual(
      Array.from({ length: 41 }, (_, index) => index + 1),
    );
    // quantity is numeric(15,4), as qCom; unit_price numeric(21,10), the
    // most decimals vUnCom may have.
    expect(result.rows).toEqual(
      written.map((line) => ({
        item_number: line.item,
        product_code: line.code,
        quantity: atScale(line.quantity, 4),
        unit_price: atScale(line.unitPrice, 10),
      })),
    );
    expect(result.rows[0]).toMatchObject({
      quantity: '36.0000',
      unit_price: '12.8400000000',
    });
  });

  it('reports everything unchanged when the same file comes again', async () => {
    const record = await sendInvoice();
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 42,
      inserted: 0,
      updated: 0,
      unchanged: 42,
      rejected: 0,
      entities: {
        nfe_invoices: { read: 1, unchanged: 1 },
        nfe_invoice_items: { read: 41, unchanged: 41 },
      },
    });
  });

  it('writes invoice and items in one transaction, invoices first', async () => {
    // Items reference their invoice (a plain foreign key): merged before
    // their invoice, they would fail. A check that fires at COMMIT fails
    // the import after both tables were merged; neither may keep a row.
    const pool = example.host.pool;
    await pool.query(`
      CREATE FUNCTION refuse_items() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
      CREATE CONSTRAINT TRIGGER refuse_items_at_commit
        AFTER INSERT OR UPDATE ON nfe_invoice_items
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION refuse_items();
    `);
    try {
      const record = await importThroughHttp(example, {
        path: file,
        entity: 'nfe_invoices',
        format: 'xml',
        token: 'token-b',
      });
      expect(record.state).toBe('failed');
      expect(record.failure?.message).toContain('refused at commit');
    } finally {
      await pool.query(`
        DROP TRIGGER refuse_items_at_commit ON nfe_invoice_items;
        DROP FUNCTION refuse_items();
      `);
    }
    const counts = await pool.query(
      `SELECT (SELECT count(*)::int FROM nfe_invoices
                WHERE tenant_id = 'tenant-b') AS invoices,
              (SELECT count(*)::int FROM nfe_invoice_items
                WHERE tenant_id = 'tenant-b') AS items`,
    );
    expect(counts.rows).toEqual([{ invoices: 0, items: 0 }]);

    // Without the trigger the same file goes in whole.
    const retried = await importThroughHttp(example, {
      path: file,
      entity: 'nfe_invoices',
      format: 'xml',
      token: 'token-b',
    });
    expect(retried.counts).toMatchObject({ read: 42, inserted: 42 });
  });
});
