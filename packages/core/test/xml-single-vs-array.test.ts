import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';
import {
  xmlOrdersDefinition,
  xmlSingleVsArrayCase,
} from './order-lines-fixtures.js';

// Case 11: one <Line> must be a list of one, an empty <Lines/> a list of
// none, and a file with a single <Order> still one record.
const orders = defineImport(xmlOrdersDefinition());

async function read(file: string): Promise<ReadItem[]> {
  const reader = createXmlReader(
    createReadStream(xmlSingleVsArrayCase + file),
    {
      definition: orders,
    },
  );
  const items: ReadItem[] = [];
  for await (const item of reader.items()) items.push(item);
  return items;
}

function rows(items: ReadItem[], entity: string | undefined) {
  return items.flatMap((item) =>
    item.kind === 'record' && item.record.entity === entity
      ? [item.record.values]
      : [],
  );
}

describe('case 11: repeated XML elements, one or many or none', () => {
  it('reads orders.xml: 2, 1 and 0 lines, no issues', async () => {
    const items = await read('orders.xml');
    expect(items.filter((item) => item.kind === 'issue')).toEqual([]);
    expect(rows(items, undefined)).toEqual([
      ['PO-1', 'C001'],
      ['PO-2', 'C002'],
      ['PO-3', 'C003'],
    ]);
    expect(rows(items, 'order_lines')).toEqual([
      ['PO-1', '1', 'P-100', '2'],
      ['PO-1', '2', 'P-101', '1'],
      ['PO-2', '1', 'P-102', '5'],
    ]);
    // Each order comes before its lines, which name where they are.
    expect(
      items.map((item) =>
        item.kind === 'record' ? item.record.position.path : item.kind,
      ),
    ).toEqual([
      '/Orders/Order[1]',
      '/Orders/Order[1]/Lines/Line[1]',
      '/Orders/Order[1]/Lines/Line[2]',
      '/Orders/Order[2]',
      '/Orders/Order[2]/Lines/Line[1]',
      '/Orders/Order[3]',
    ]);
  });

  it('reads orders_single.xml: one order with one line', async () => {
    const items = await read('orders_single.xml');
    expect(items.filter((item) => item.kind === 'issue')).toEqual([]);
    expect(rows(items, undefined)).toEqual([['PO-9', 'C009']]);
    expect(rows(items, 'order_lines')).toEqual([['PO-9', '1', 'P-900', '3']]);
  });
});
