import { jsonXmlTablesSql } from './json-xml-definitions.js';

/**
 * The target tables of the example definitions. Every primary key starts
 * with `tenant_id`, which the engine fills with the importing tenant.
 */
export const exampleTablesSql = `
-- The server and the workers start together and each creates the tables;
-- concurrent CREATE TABLE IF NOT EXISTS can still collide, so they take
-- turns. One simple query is one transaction: the lock lasts to its end.
SELECT pg_advisory_xact_lock(hashtext('erp-import example tables'));

CREATE TABLE IF NOT EXISTS ibpt_tax_rates (
  tenant_id text NOT NULL,
  codigo varchar(16) NOT NULL,
  ex varchar(4) NOT NULL,
  tipo varchar(2) NOT NULL,
  descricao text,
  nacionalfederal numeric(7, 2),
  importadosfederal numeric(7, 2),
  estadual numeric(7, 2),
  municipal numeric(7, 2),
  vigenciainicio date,
  vigenciafim date,
  chave varchar(20),
  versao varchar(20),
  fonte varchar(100),
  PRIMARY KEY (tenant_id, codigo, ex, tipo)
);

CREATE TABLE IF NOT EXISTS customers (
  tenant_id text NOT NULL,
  customer_id varchar(10) NOT NULL,
  company_name text,
  contact_name text,
  contact_title text,
  address text,
  city text,
  region text,
  postal_code text,
  country text,
  phone text,
  fax text,
  PRIMARY KEY (tenant_id, customer_id)
);

CREATE TABLE IF NOT EXISTS demo_prices (
  tenant_id text NOT NULL,
  sku varchar(20) NOT NULL,
  description varchar(120) NOT NULL,
  price numeric(12, 2) NOT NULL
    CONSTRAINT demo_prices_price_positive CHECK (price >= 0),
  valid_from date,
  active boolean,
  PRIMARY KEY (tenant_id, sku)
);
${jsonXmlTablesSql}`;

/** The one member of a `pg.Pool` (or client) this needs. */
export interface Queryable {
  query(text: string): Promise<unknown>;
}

/** Creates the example tables when they are missing; safe to repeat. */
export async function createExampleTables(database: Queryable): Promise<void> {
  await database.query(exampleTablesSql);
}
