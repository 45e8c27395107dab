import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { readAndCoerce, sharedPath } from './csv-test-helpers.js';

// Northwind customers: UTF-8 without BOM, the literal NULL for missing
// values, postal codes with leading zeros.
const file = sharedPath('data/northwind-customers.csv');

const definition = defineImport({
  entity: 'customers',
  table: 'customers',
  key: ['customer_id'],
  nullTokens: ['NULL'],
  columns: [
    { name: 'customer_id', type: 'text', source: 'customerID' },
    {
      name: 'company_name',
      type: 'text',
      source: 'companyName',
      nullable: false,
    },
    { name: 'city', type: 'text' },
    { name: 'region', type: 'text' },
    { name: 'postal_code', type: 'text', source: 'postalCode' },
    { name: 'country', type: 'text' },
  ],
});

describe('northwind customers', () => {
  it('reads NULL tokens as null and keeps leading zeros', async () => {
    const { rows, allIssues, reader } = await readAndCoerce(file, {
      definition,
    });
    expect(allIssues).toEqual([]);
    expect(rows).toHaveLength(91);
    expect(reader.detected()).toEqual({ encoding: 'utf-8', delimiter: ',' });
    expect(rows[1]?.values).toEqual([
      'ANATR',
      'Ana Trujillo Emparedados y helados',
      'México D.F.',
      null,
      '05021',
      'Mexico',
    ]);
  });
});
