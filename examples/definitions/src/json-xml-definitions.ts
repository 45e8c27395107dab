import type { ImportDefinitionInput } from '@erp-import/core';

/**
 * The example entities read from JSON and XML. Like the CSV ones, each
 * table has a `tenant_id` column the engine fills with the importing
 * tenant, first in every primary key.
 */

/**
 * Northwind's products.json: a top-level array of objects in camelCase,
 * mapped by path onto snake_case columns. Prices are JSON numbers; they
 * reach the numeric column with the digits the file wrote (21.35 stays
 * 21.35), never through a JavaScript number.
 */
export const products = {
  entity: 'products',
  description: 'Products (the Northwind sample export, JSON)',
  table: 'products',
  key: ['product_id'],
  tenantColumn: 'tenant_id',
  columns: [
    { name: 'product_id', type: 'integer', path: 'productID' },
    { name: 'name', type: 'text', length: 60, nullable: false },
    { name: 'supplier_id', type: 'integer', path: 'supplierID' },
    { name: 'category_id', type: 'integer', path: 'categoryID' },
    {
      name: 'quantity_per_unit',
      type: 'text',
      length: 40,
      path: 'quantityPerUnit',
    },
    {
      name: 'unit_price',
      type: 'numeric',
      precision: 10,
      scale: 2,
      path: 'unitPrice',
    },
    { name: 'units_in_stock', type: 'integer', path: 'unitsInStock' },
    { name: 'units_on_order', type: 'integer', path: 'unitsOnOrder' },
    { name: 'reorder_level', type: 'integer', path: 'reorderLevel' },
    { name: 'discontinued', type: 'boolean' },
  ],
} satisfies ImportDefinitionInput;

const nfeNamespace = 'http://www.portalfiscal.inf.br/nfe';

/**
 * Brazilian electronic invoices (NF-e, layout 4.00), as authorized
 * (`nfeProc`) or bare (`NFe`): one invoice per `infNFe`, one item per
 * `det`. Elements are matched by the NF-e namespace, whatever prefix the
 * document gives it.
 *
 * The numeric columns follow the layout's sizes, so no digit a valid
 * file can hold is lost: quantities have up to 4 decimals (`qCom`,
 * 11 digits before the point), unit prices up to 10 (`vUnCom`), amounts
 * 2. A unit price written `12.8400000` is stored as 12.8400000000.
 */
export const nfeInvoices = {
  entity: 'nfe_invoices',
  description: 'NF-e invoices (XML, layout 4.00) with their items',
  table: 'nfe_invoices',
  key: ['access_key'],
  tenantColumn: 'tenant_id',
  namespaces: { nfe: nfeNamespace },
  records: { xmlPath: '//nfe:NFe/nfe:infNFe' },
  columns: [
    // The 44 digits of the access key: the Id attribute less its `NFe`.
    {
      name: 'access_key',
      type: 'text',
      length: 44,
      path: '@Id',
      stripPrefix: 'NFe',
    },
    { name: 'model', type: 'text', length: 2, path: 'nfe:ide/nfe:mod' },
    { name: 'series', type: 'integer', path: 'nfe:ide/nfe:serie' },
    { name: 'number', type: 'integer', path: 'nfe:ide/nfe:nNF' },
    { name: 'issued_at', type: 'timestamptz', path: 'nfe:ide/nfe:dhEmi' },
    {
      name: 'issuer_cnpj',
      type: 'text',
      length: 14,
      nullable: false,
      path: 'nfe:emit/nfe:CNPJ',
    },
    { name: 'issuer_name', type: 'text', path: 'nfe:emit/nfe:xNome' },
    // A recipient is a company (CNPJ) or a person (CPF).
    {
      name: 'recipient_cnpj',
      type: 'text',
      length: 14,
      path: 'nfe:dest/nfe:CNPJ',
    },
    {
      name: 'recipient_cpf',
      type: 'text',
      length: 11,
      path: 'nfe:dest/nfe:CPF',
    },
    { name: 'recipient_name', type: 'text', path: 'nfe:dest/nfe:xNome' },
    {
      name: 'products_total',
      type: 'numeric',
      precision: 15,
      scale: 2,
      path: 'nfe:total/nfe:ICMSTot/nfe:vProd',
    },
    {
      name: 'invoice_total',
      type: 'numeric',
      precision: 15,
      scale: 2,
      path: 'nfe:total/nfe:ICMSTot/nfe:vNF',
    },
  ],
  children: [
    {
      entity: 'nfe_invoice_items',
      description: 'The items (det) of an NF-e invoice',
      table: 'nfe_invoice_items',
      path: 'nfe:det',
      key: ['access_key', 'item_number'],
      columns: [
        { name: 'access_key', type: 'text', fromParent: 'access_key' },
        { name: 'item_number', type: 'integer', path: '@nItem' },
        {
          name: 'product_code',
          type: 'text',
          length: 60,
          nullable: false,
          path: 'nfe:prod/nfe:cProd',
        },
        {
          name: 'description',
          type: 'text',
          length: 120,
          path: 'nfe:prod/nfe:xProd',
        },
        { name: 'ncm', type: 'text', length: 8, path: 'nfe:prod/nfe:NCM' },
        { name: 'cfop', type: 'text', length: 4, path: 'nfe:prod/nfe:CFOP' },
        { name: 'unit', type: 'text', length: 6, path: 'nfe:prod/nfe:uCom' },
        {
          name: 'quantity',
          type: 'numeric',
          precision: 15,
          scale: 4,
          nullable: false,
          path: 'nfe:prod/nfe:qCom',
        },
        {
          name: 'unit_price',
          type: 'numeric',
          precision: 21,
          scale: 10,
          nullable: false,
          path: 'nfe:prod/nfe:vUnCom',
        },
        {
          name: 'total',
          type: 'numeric',
          precision: 15,
          scale: 2,
          path: 'nfe:prod/nfe:vProd',
        },
      ],
    },
  ],
} satisfies ImportDefinitionInput;

/** The target tables of the definitions above. */
export const jsonXmlTablesSql = `
CREATE TABLE IF NOT EXISTS products (
  tenant_id text NOT NULL,
  product_id integer NOT NULL,
  name varchar(60) NOT NULL,
  supplier_id integer,
  category_id integer,
  quantity_per_unit varchar(40),
  unit_price numeric(10, 2),
  units_in_stock integer,
  units_on_order integer,
  reorder_level integer,
  discontinued boolean,
  PRIMARY KEY (tenant_id, product_id)
);

CREATE TABLE IF NOT EXISTS nfe_invoices (
  tenant_id text NOT NULL,
  access_key varchar(44) NOT NULL CHECK (access_key ~ '^[0-9]{44}$'),
  model varchar(2),
  series integer,
  number integer,
  issued_at timestamptz,
  issuer_cnpj varchar(14) NOT NULL,
  issuer_name text,
  recipient_cnpj varchar(14),
  recipient_cpf varchar(11),
  recipient_name text,
  products_total numeric(15, 2),
  invoice_total numeric(15, 2),
  PRIMARY KEY (tenant_id, access_key)
);

-- Items reference their invoice: the import merges invoices first, in
-- the same transaction, so the reference holds at every step.
CREATE TABLE IF NOT EXISTS nfe_invoice_items (
  tenant_id text NOT NULL,
  access_key varchar(44) NOT NULL,
  item_number integer NOT NULL,
  product_code varchar(60) NOT NULL,
  description varchar(120),
  ncm varchar(8),
  cfop varchar(4),
  unit varchar(6),
  quantity numeric(15, 4) NOT NULL,
  unit_price numeric(21, 10) NOT NULL,
  total numeric(15, 2),
  PRIMARY KEY (tenant_id, access_key, item_number),
  FOREIGN KEY (tenant_id, access_key)
    REFERENCES nfe_invoices (tenant_id, access_key)
);
`;
