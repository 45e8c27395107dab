import type { ImportDefinitionInput } from '@erp-import/core';

/** The product's definition of the bench's customers export. */
export const benchCustomers = {
  entity: 'bench_customers',
  description: 'ERP customers, as the bench generates them',
  table: 'bench_customers',
  key: ['code'],
  tenantColumn: 'tenant_id',
  locale: {
    decimalSeparator: '.',
    groupSeparator: '',
    dateFormats: ['yyyy-MM-dd'],
    timestampFormats: ['yyyy-MM-dd HH:mm:ss'],
    timeZone: 'America/Sao_Paulo',
  },
  records: { xmlPath: '/customers/customer' },
  columns: [
    { name: 'code', type: 'text', length: 20 },
    { name: 'name', type: 'text', length: 120, nullable: false },
    { name: 'tax_id', type: 'text', length: 14 },
    { name: 'city', type: 'text', length: 60 },
    { name: 'credit_limit', type: 'numeric', precision: 12, scale: 2 },
    { name: 'active', type: 'boolean' },
    { name: 'updated_at', type: 'timestamp' },
  ],
} satisfies ImportDefinitionInput;

/** The typed columns, shared by the product's table and the baseline's. */
const columnsSql = `
  tenant_id text NOT NULL,
  code varchar(20) NOT NULL,
  name varchar(120) NOT NULL,
  tax_id varchar(14),
  city varchar(60),
  credit_limit numeric(12,2),
  active boolean,
  updated_at timestamp`;

export function createTargetTableSql(table: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (${columnsSql},\n` +
    '  PRIMARY KEY (tenant_id, code)\n)'
  );
}
