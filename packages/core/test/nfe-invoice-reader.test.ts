import { createReadStream, readFileSync } from 'node:fs';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import type { MappedRecord } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';

const nfeFile = sharedPath(
  'data',
  'nfe-35180834128745000152550010000476861118934859.xml',
);

const NFE = 'http://www.portalfiscal.inf.br/nfe';

const invoices = defineImport({
  entity: 'nfe_invoices',
  table: 'nfe_invoices',
  key: ['access_key'],
  namespaces: { nfe: NFE },
  records: { xmlPath: '//nfe:NFe/nfe:infNFe' },
  columns: [
    // The access key is the Id attribute without its `NFe` prefix.
    {
      name: 'access_key',
      type: 'text',
      length: 44,
      path: '@Id',
      stripPrefix: 'NFe',
    },
    { name: 'issuer_cnpj', type: 'text', path: 'nfe:emit/nfe:CNPJ' },
    { name: 'number', type: 'integer', path: 'nfe:ide/nfe:nNF' },
  ],
  children: [
    {
      entity: 'nfe_invoice_items',
      table: 'nfe_invoice_items',
      path: 'nfe:det',
      key: ['access_key', 'item_number'],
      columns: [
        { name: 'access_key', type: 'text', fromParent: 'access_key' },
        { name: 'item_number', type: 'integer', path: '@nItem' },
        { name: 'product_code', type: 'text', path: 'nfe:prod/nfe:cProd' },
        { name: 'quantity', type: 'numeric', path: 'nfe:prod/nfe:qCom' },
        { name: 'unit_price', type: 'numeric', path: 'nfe:prod/nfe:vUnCom' },
      ],
    },
  ],
});

describe('NF-e invoice with 41 lines', () => {
  it('gives one invoice and its lines, values as the file writes them', async () => {
    const reader = createXmlReader(createReadStream(nfeFile), {
      definition: invoices,
    });
    const records: MappedRecord[] = [];
    for await (const item of reader.items()) {
      expect(item.kind).toBe('record');
      if (item.kind === 'record') records.push(item.record);
    }

    const [invoice, ...lines] = records;
    expect(invoice?.entity).toBeUndefined();
    expect(invoice?.values).toEqual([
      '35180834128745000152550010000476861118934859',
      '34128745000152',
      '47686',
    ]);
    expect(invoice?.position).toMatchObject({
      recordNumber: 1,
      line: 4,
      path: '/nfeProc/NFe/infNFe[1]',
    });

    expect(lines).toHaveLength(41);
    expect(lines.map((line) => line.entity)).toEqual(
      Array(41).fill('nfe_invoice_items'),
    );
    expect(lines.map((line) => line.values[1])).toEqual(
      Array.from({ length: 41 }, (_, index) => String(index + 1)),
    );
    expect(lines[2]?.position.path).toBe('/nfeProc/NFe/infNFe[1]/det[3]');

    // The file's own digits, found independently of the reader.
    const text = readFileSync(nfeFile, 'utf8');
    const expected = [
      ...text.matchAll(/<det nItem="(\d+)">[\s\S]*?<\/det>/g),
    ].map(([block]) => [
      /<qCom>([^<]*)<\/qCom>/.exec(block)?.[1],
      /<vUnCom>([^<]*)<\/vUnCom>/.exec(block)?.[1],
    ]);
    expect(expected).toHaveLength(41);
    expect(lines.map((line) => [line.values[3], line.values[4]])).toEqual(
      expected,
    );
    expect(lines[0]?.values).toEqual([
      '35180834128745000152550010000476861118934859',
      '1',
      '2094',
      '36.0000',
      '12.8400000',
    ]);
  });
});
