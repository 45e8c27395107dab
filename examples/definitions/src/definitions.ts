import type { ImportDefinitionInput } from '@erp-import/core';
import { nfeInvoices, products } from './json-xml-definitions.js';

/**
 * The entities the example server, worker and demo accept. Each table
 * has a `tenant_id` column the engine fills with the importing tenant, so
 * two tenants sending the same codes never touch each other's rows.
 */

/**
 * The IBPT tax-rate table Brazilian ERPs import (TabelaIBPTax*.csv):
 * Windows-1252, `;`, dates as dd/MM/yyyy. Its rates are written with a
 * point (`13.45`) although the file is otherwise Brazilian, so the locale
 * is spelled out instead of taking the pt-BR preset, whose `.` groups
 * thousands and would misread them.
 */
export const ibptTaxRates = {
  entity: 'ibpt_tax_rates',
  description: 'IBPT approximate tax rates by NCM/NBS code (Lei 12.741/12)',
  table: 'ibpt_tax_rates',
  key: ['codigo', 'ex', 'tipo'],
  tenantColumn: 'tenant_id',
  locale: {
    decimalSeparator: '.',
    groupSeparator: '',
    dateFormats: ['dd/MM/yyyy'],
    timeZone: 'America/Sao_Paulo',
  },
  columns: [
    // Codes keep their leading zeros (`00000000`): text, never a number.
    { name: 'codigo', type: 'text', length: 16 },
    // Empty in most rows, yet part of the key: read as '' rather than
    // NULL, which a key refuses.
    { name: 'ex', type: 'text', length: 4, default: '' },
    { name: 'tipo', type: 'text', length: 2 },
    { name: 'descricao', type: 'text' },
    { name: 'nacionalfederal', type: 'numeric', precision: 7, scale: 2 },
    { name: 'importadosfederal', type: 'numeric', precision: 7, scale: 2 },
    { name: 'estadual', type: 'numeric', precision: 7, scale: 2 },
    { name: 'municipal', type: 'numeric', precision: 7, scale: 2 },
    { name: 'vigenciainicio', type: 'date' },
    { name: 'vigenciafim', type: 'date' },
    { name: 'chave', type: 'text', length: 20 },
    { name: 'versao', type: 'text', length: 20 },
    { name: 'fonte', type: 'text', length: 100 },
  ],
} satisfies ImportDefinitionInput;

/** Northwind's customers.csv: UTF-8, `,`, the literal NULL for nothing. */
export const customers = {
  entity: 'customers',
  description: 'Customers (the Northwind sample export)',
  table: 'customers',
  key: ['customer_id'],
  tenantColumn: 'tenant_id',
  nullTokens: ['NULL'],
  columns: [
    { name: 'customer_id', type: 'text', length: 10, source: 'customerID' },
    { name: 'company_name', type: 'text', source: 'companyName' },
    { name: 'contact_name', type: 'text', source: 'contactName' },
    { name: 'contact_title', type: 'text', source: 'contactTitle' },
    { name: 'address', type: 'text' },
    { name: 'city', type: 'text' },
    { name: 'region', type: 'text' },
    // Postal codes such as 05021 are codes, not numbers.
    { name: 'postal_code', type: 'text', source: 'postalCode' },
    { name: 'country', type: 'text' },
    { name: 'phone', type: 'text' },
    { name: 'fax', type: 'text' },
  ],
} satisfies ImportDefinitionInput;

/**
 * The price list the demo generates: what a Brazilian ERP writes
 * (Windows-1252, `;`, `1.234,56`, dd/MM/yyyy, S/N), headers in Portuguese.
 */
export const demoPrices = {
  entity: 'demo_prices',
  description: 'Product prices, as the demo generates them',
  table: 'demo_prices',
  key: ['sku'],
  tenantColumn: 'tenant_id',
  locale: 'pt-BR',
  columns: [
    { name: 'sku', type: 'text', length: 20, source: 'Código' },
    {
      name: 'description',
      type: 'text',
      length: 120,
      nullable: false,
      source: 'Descrição',
    },
    {
      name: 'price',
      type: 'numeric',
      precision: 12,
      scale: 2,
      nullable: false,
      source: 'Preço',
    },
    { name: 'valid_from', type: 'date', source: 'Vigência' },
    { name: 'active', type: 'boolean', source: 'Ativo' },
  ],
} satisfies ImportDefinitionInput;

export const exampleDefinitions: ImportDefinitionInput[] = [
  ibptTaxRates,
  customers,
  demoPrices,
  products,
  nfeInvoices,
];
