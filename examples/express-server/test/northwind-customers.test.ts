import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';

// Northwind's customers.csv (UTF-8, `,`, the literal NULL for missing
// values, postal codes with leading zeros) through HTTP into customers.

const database = useTestDatabase('northwind_customers');
const file = sharedData('northwind-customers.csv');

let example: RunningExample;

beforeAll(async () => {
  example = await startExample(database.url);
});

afterAll(async () => {
  await example?.close();
});

describe('Northwind customers through HTTP', () => {
  it('imports the 91 customers', async () => {
    const accepted = await example.upload(file, 'customers');
    const record = await example.finish(accepted.id);
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 91,
      inserted: 91,
      rejected: 0,
    });
    const count = await example.host.pool.query(
      "SELECT count(*)::int AS n FROM customers WHERE tenant_id = 'tenant-a'",
    );
    expect(count.rows[0].n).toBe(91);
  });

  it('reads the NULL token as NULL and keeps postal code 05021', async () => {
    const result = await example.host.pool.query(
      `SELECT company_name, region, postal_code, country
         FROM customers WHERE customer_id = 'ANATR'`,
    );
    expect(result.rows).toEqual([
      {
        company_name: 'Ana Trujillo Emparedados y helados',
        region: null,
        postal_code: '05021',
        country: 'Mexico',
      },
    ]);
    const token = await example.host.pool.query(
      "SELECT count(*)::int AS n FROM customers WHERE region = 'NULL' OR fax = 'NULL'",
    );
    expect(token.rows[0].n).toBe(0);
  });

  it("keeps each tenant's customers apart", async () => {
    const accepted = await example.upload(file, 'customers', 'token-b');
    const record = await example.finish(accepted.id, 'token-b');
    // The same keys under another tenant are new rows, not updates.
    expect(record.counts).toMatchObject({ inserted: 91, unchanged: 0 });

    const response = await fetch(`${example.baseUrl}/imports/${accepted.id}`, {
      headers: { authorization: 'Bearer token-a' },
    });
    expect(response.status).toBe(404);
    const count = await example.host.pool.query(
      'SELECT tenant_id, count(*)::int AS n FROM customers GROUP BY 1 ORDER BY 1',
    );
    expect(count.rows).toEqual([
      { tenant_id: 'tenant-a', n: 91 },
      { tenant_id: 'tenant-b', n: 91 },
    ]);
  });
});
