import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';

async function readAll(
  text: string | Buffer,
  input: ImportDefinitionInput,
  chunkSize = 5,
): Promise<ReadItem[]> {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.subarray(offset, offset + chunkSize));
  }
  const reader = createXmlReader(Readable.from(chunks), {
    definition: defineImport(input),
  });
  const out: ReadItem[] = [];
  for await (const item of reader.items()) out.push(item);
  return out;
}

function records(list: ReadItem[]) {
  return list.flatMap((item) => (item.kind === 'record' ? [item.record] : []));
}

const codes: ImportDefinitionInput = {
  entity: 'codes',
  table: 'codes',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text', path: 'Code' },
    { name: 'note', type: 'text', path: 'Note' },
  ],
};

describe('XML reader', () => {
  it('matches namespaces by URI, whatever prefix the document uses', async () => {
    const document = `<?xml version="1.0"?>
<x:Batch xmlns:x="urn:orders" xmlns:y="urn:other">
  <x:Order x:kind="a"><x:Code>A</x:Code></x:Order>
  <y:Order><y:Code>NOT-MINE</y:Code></y:Order>
  <Order xmlns="urn:orders"><Code>B</Code></Order>
</x:Batch>`;
    const read = await readAll(document, {
      entity: 'orders',
      table: 'orders',
      key: ['code'],
      namespaces: { o: 'urn:orders' },
      records: { xmlPath: '/o:Batch/o:Order' },
      columns: [
        { name: 'code', type: 'text', path: 'o:Code' },
        { name: 'kind', type: 'text', path: '@o:kind' },
      ],
    });
    expect(records(read).map((r) => [r.position.path, ...r.values])).toEqual([
      ['/x:Batch/x:Order[1]', 'A', 'a'],
      ['/x:Batch/Order[1]', 'B', undefined],
    ]);
  });

  it('reads attributes, nested elements and ancestors', async () => {
    const document = `<Export version="7">
  <Invoice Id="INV-1">
    <Head><Issuer doc="123"/></Head>
    <Lines><Line n="1"><Qty>2</Qty></Line><Line n="2"><Qty>3</Qty></Line></Lines>
  </Invoice>
</Export>`;
    const read = await readAll(document, {
      entity: 'lines',
      table: 'lines',
      key: ['invoice', 'n'],
      records: { xmlPath: 'Export/Invoice/Lines/Line' },
      columns: [
        { name: 'invoice', type: 'text', path: 'ancestor::Invoice/@Id' },
        { name: 'version', type: 'text', path: '../../../@version' },
        { name: 'n', type: 'integer', path: '@n' },
        { name: 'qty', type: 'numeric', path: 'Qty' },
        // Ancestors outside the record keep their attributes only.
        { name: 'issuer', type: 'text', path: '../../Head/Issuer/@doc' },
      ],
    });
    expect(records(read).map((r) => [r.position.line, ...r.values])).toEqual([
      [4, 'INV-1', '7', '1', '2', undefined],
      [4, 'INV-1', '7', '2', '3', undefined],
    ]);
    expect(records(read)[1]?.position.path).toBe(
      '/Export/Invoice/Lines/Line[2]',
    );
  });

  it('decodes CDATA and entities exactly once', async () => {
    const document = `<Codes>
  <Item><Code>&amp;lt;</Code><Note><![CDATA[ <b>&amp;</b> ]]></Note></Item>
  <Item><Code>A&#38;B &#x3C;</Code><Note>  </Note></Item>
  <Item><Code>  padded  </Code><Note/></Item>
</Codes>`;
    const read = await readAll(document, codes);
    expect(records(read).map((r) => r.values)).toEqual([
      ['&lt;', ' <b>&amp;</b> '],
      ['A&B <', null],
      ['padded', null],
    ]);
  });

  it('keeps codes such as 0006, 0E68 and 1e5 as written', async () => {
    const document =
      '<Codes><Item><Code>0006</Code><Note>0E68</Note></Item>' +
      '<Item><Code>1e5</Code><Note>12345678901234567890.10</Note></Item></Codes>';
    const read = await readAll(document, codes);
    expect(records(read).map((r) => r.values)).toEqual([
      ['0006', '0E68'],
      ['1e5', '12345678901234567890.10'],
    ]);
  });

  it('refuses a DOCTYPE that declares entities, expanding none', async () => {
    const document = `<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<Codes><Item><Code>&lol2;</Code></Item></Codes>`;
    const seen: ReadItem[] = [];
    const failure = await (async () => {
      const reader = createXmlReader(Readable.from([Buffer.from(document)]), {
        definition: defineImport(codes),
      });
      for await (const item of reader.items()) seen.push(item);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ImportError);
    expect((failure as ImportError).code).toBe(ErrorCodes.HOSTILE_XML);
    expect(seen).toEqual([]);
  });

  it('refuses an external entity and an external DTD', async () => {
    const external = `<?xml version="1.0"?>
<!DOCTYPE Codes [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Codes><Item><Code>&secret;</Code></Item></Codes>`;
    await expect(readAll(external, codes)).rejects.toMatchObject({
      code: ErrorCodes.HOSTILE_XML,
    });
    const dtd = `<!DOCTYPE Codes SYSTEM "http://example.com/codes.dtd">
<Codes><Item><Code>A</Code></Item></Codes>`;
    await expect(readAll(dtd, codes)).rejects.toMatchObject({
      code: ErrorCodes.HOSTILE_XML,
    });
  });

  it('accepts a plain DOCTYPE without declarations', async () => {
    const read = await readAll(
      '<!DOCTYPE Codes><Codes><Item><Code>A</Code></Item></Codes>',
      codes,
    );
    expect(records(read).map((r) => r.values[0])).toEqual(['A']);
  });

  it('fails malformed XML with its line, after the records before it', async () => {
    const document =
      '<Codes>\n<Item><Code>A</Code></Item>\n<Item><Code>B</Item>\n</Codes>';
    const seen: ReadItem[] = [];
    const failure = await (async () => {
      const reader = createXmlReader(Readable.from([Buffer.from(document)]), {
        definition: defineImport(codes),
      });
      for await (const item of reader.items()) seen.push(item);
    })().catch((error: unknown) => error);
    expect(failure).toMatchObject({
      code: ErrorCodes.MALFORMED_FILE,
      details: { line: 3 },
    });
    expect(records(seen).map((r) => r.values[0])).toEqual(['A']);
    await expect(readAll('<Codes><Item>', codes)).rejects.toMatchObject({
      code: ErrorCodes.MALFORMED_FILE,
    });
    await expect(readAll('', codes)).rejects.toMatchObject({
      code: ErrorCodes.EMPTY_FILE,
    });
  });

  it('honours the encoding the XML declaration names', async () => {
    const document =
      '<?xml version="1.0" encoding="ISO-8859-1"?>' +
      '<Codes><Item><Code>São João</Code></Item></Codes>';
    const reader = createXmlReader(
      Readable.from([Buffer.from(document, 'latin1')]),
      { definition: defineImport(codes) },
    );
    const out: ReadItem[] = [];
    for await (const item of reader.items()) out.push(item);
    expect(records(out)[0]?.values[0]).toBe('São João');
    expect(reader.detected().encoding).toBe('iso-8859-1');
  });

  it('rejects a record whose single-valued path repeats', async () => {
    const read = await readAll(
      '<Codes><Item><Code>A</Code><Code>B</Code></Item>' +
        '<Item><Code>C</Code></Item></Codes>',
      codes,
    );
    expect(read[0]).toMatchObject({
      kind: 'issue',
      issue: { code: 'repeated_element', column: 'code' },
    });
    expect(records(read).map((r) => r.values[0])).toEqual(['C']);
  });

  it('reads a declared repeated path as a JSON list for jsonb', async () => {
    const read = await readAll(
      '<Codes><Item><Code>A</Code><Tag>x</Tag><Tag>y</Tag></Item>' +
        '<Item><Code>B</Code></Item></Codes>',
      {
        ...codes,
        repeated: ['Tag'],
        columns: [
          { name: 'code', type: 'text', path: 'Code' },
          { name: 'tags', type: 'jsonb', path: 'Tag' },
        ],
      },
    );
    expect(records(read).map((r) => r.values)).toEqual([
      ['A', '["x","y"]'],
      ['B', '[]'],
    ]);
  });
});
