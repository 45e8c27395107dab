import { sharedPath } from '@erp-import/dev-services/shared-files';
import type pg from 'pg';
import type { ImportDefinitionInput, LoggedRowIssue } from '../src/index.js';

// Orders with their lines as children, as the nested XML and JSON tests
// read and import them.

/** Case 11: one <Line>, many, or an empty <Lines/>, and a single <Order>. */
export const xmlSingleVsArrayCase = `${sharedPath(
  'cases',
  '11-xml-single-vs-array',
)}/`;

/** A line's columns: its order's number, its place in it, sku and qty. */
export const orderLineColumns = [
  { name: 'order_number', type: 'text', fromParent: 'order_number' },
  // line_no: the 1-based position of the line within its order.
  { name: 'line_no', type: 'integer', ordinal: true },
  { name: 'sku', type: 'text', path: 'Sku', nullable: false },
  { name: 'qty', type: 'integer', path: 'Qty', nullable: false },
] as const;

/** Case 11's orders and their lines in XML, under the entity names given. */
export function xmlOrdersDefinition(
  entity = 'orders',
  lineEntity = 'order_lines',
): ImportDefinitionInput {
  return {
    entity,
    table: 'orders',
    key: ['order_number'],
    records: { xmlPath: '/Orders/Order' },
    columns: [
      { name: 'order_number', type: 'text', path: '@number' },
      {
        name: 'customer_code',
        type: 'text',
        path: 'Customer',
        nullable: false,
      },
    ],
    children: [
      {
        entity: lineEntity,
        table: 'order_lines',
        path: 'Lines/Line',
        key: ['order_number', 'line_no'],
        columns: [...orderLineColumns],
      },
    ],
  };
}

/** The same orders and lines in JSON: `details` holds an order's lines. */
export function jsonOrdersDefinition(
  entity = 'json_orders',
  lineEntity = 'json_order_lines',
): ImportDefinitionInput {
  return {
    entity,
    table: 'orders',
    key: ['order_number'],
    columns: [
      { name: 'order_number', type: 'text', path: 'number' },
      {
        name: 'customer_code',
        type: 'text',
        path: 'customer',
        nullable: false,
      },
    ],
    children: [
      {
        entity: lineEntity,
        table: 'order_lines',
        path: 'details',
        key: ['order_number', 'line_no'],
        columns: [...orderLineColumns],
      },
    ],
  };
}

/**
 * Drops and creates the orders and order_lines tables (those of case 11),
 * the lines referencing their order when asked.
 */
export async function recreateOrderTables(
  pool: pg.Pool,
  options: { linesReferenceOrders?: boolean } = {},
): Promise<void> {
  const reference = options.linesReferenceOrders ? ' REFERENCES orders' : '';
  await pool.query(`
    DROP TABLE IF EXISTS order_lines, orders;
    CREATE TABLE orders (
      order_number  text PRIMARY KEY,
      customer_code text NOT NULL
    );
    CREATE TABLE order_lines (
      order_number text    NOT NULL${reference},
      line_no      integer NOT NULL,
      sku          text    NOT NULL,
      qty          integer NOT NULL,
      PRIMARY KEY (order_number, line_no)
    );
  `);
}

/** The stored orders as [order_number, customer_code], in key order. */
export async function storedOrders(pool: pg.Pool): Promise<unknown[][]> {
  const result = await pool.query(
    'SELECT order_number, customer_code FROM orders ORDER BY 1',
  );
  return result.rows.map((row) => [row.order_number, row.customer_code]);
}

/** The stored lines as [order_number, line_no, sku, qty], in key order. */
export async function storedLines(pool: pg.Pool): Promise<unknown[][]> {
  const result = await pool.query(
    'SELECT order_number, line_no, sku, qty FROM order_lines ORDER BY 1, 2',
  );
  return result.rows.map((row) => [
    row.order_number,
    row.line_no,
    row.sku,
    row.qty,
  ]);
}

/** Each logged issue as [entity or null, code, record number, path, line]. */
export function issuePlaces(errors: readonly LoggedRowIssue[]): unknown[][] {
  return errors.map((issue) => [
    issue.entity ?? null,
    issue.code,
    issue.position.recordNumber,
    issue.position.path,
    issue.position.line,
  ]);
}
