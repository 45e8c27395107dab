import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';

describe('defineImport', () => {
  it('fills defaults and makes key columns non-nullable', () => {
    const definition = defineImport({
      entity: 'customers',
      table: 'customers',
      key: ['customer_id'],
      columns: [
        { name: 'customer_id', type: 'text' },
        { name: 'name', type: 'text', source: ['Nome', 'Name'] },
      ],
      locale: 'pt-BR',
    });
    expect(definition.columns[0]).toMatchObject({
      nullable: false,
      isKey: true,
    });
    expect(definition.columns[1]?.sources).toEqual(['name', 'Nome', 'Name']);
    expect(definition.locale.decimalSeparator).toBe(',');
  });

  it('refuses a key column that is not declared', () => {
    expect(() =>
      defineImport({
        entity: 'customers',
        table: 'customers',
        key: ['id'],
        columns: [{ name: 'name', type: 'text' }],
      }),
    ).toThrow(ImportError);
  });
});

describe('test database', () => {
  const database = useTestDatabase('smoke');
  it('is a real PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const result = await client.query('SELECT current_database() AS name');
    await client.end();
    expect(result.rows[0].name).toMatch(/^erp_smoke_/);
  });
});
