import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';

// The XML reader sorts a record's children into the columns that name
// one child element in a single pass; these are the ways a record's
// children and its columns can meet, each checked value by value.

async function readAll(
  text: string,
  input: ImportDefinitionInput,
): Promise<ReadItem[]> {
  const reader = createXmlReader(Readable.from([Buffer.from(text)]), {
    definition: defineImport(input),
  });
  const out: ReadItem[] = [];
  for await (const item of reader.items()) out.push(item);
  return out;
}

function summary(items: ReadItem[]) {
  return items.map((item) =>
    item.kind === 'record'
      ? [item.record.position.path, ...item.record.values]
      : [item.issue.position?.path, item.issue.code, item.issue.column],
  );
}

describe('XML columns named by a child element', () => {
  it('takes the first source found, in the order the column lists them', async () => {
    const read = await readAll(
      '<Items>' +
        '<Item><code>A</code><Sku>S-A</Sku></Item>' +
        '<Item><Sku>S-B</Sku></Item>' +
        '<Item><Ref>R-C</Ref><Sku>S-C</Sku></Item>' +
        '<Item><Ref>R-D</Ref></Item>' +
        '</Items>',
      {
        entity: 'items',
        table: 'items',
        key: ['code'],
        columns: [{ name: 'code', type: 'text', source: ['Sku', 'Ref'] }],
      },
    );
    expect(summary(read)).toEqual([
      ['/Items/Item[1]', 'A'],
      ['/Items/Item[2]', 'S-B'],
      ['/Items/Item[3]', 'S-C'],
      ['/Items/Item[4]', 'R-D'],
    ]);
  });

  it('gives one element to every column that names it', async () => {
    const read = await readAll(
      '<Items><Item><Code>A</Code><note>n</note></Item></Items>',
      {
        entity: 'items',
        table: 'items',
        key: ['code'],
        columns: [
          { name: 'code', type: 'text', path: 'Code' },
          { name: 'code_again', type: 'text', path: 'Code' },
          { name: 'note', type: 'text' },
          { name: 'note_again', type: 'text', path: 'note' },
        ],
      },
    );
    expect(summary(read)).toEqual([['/Items/Item[1]', 'A', 'A', 'n', 'n']]);
  });

  it('matches a prefixed name by namespace and an unprefixed one in any', async () => {
    const read = await readAll(
      '<b:Items xmlns:b="urn:b" xmlns:c="urn:c">' +
        '<b:Item><c:Code>wrong</c:Code><b:Code>B1</b:Code><c:Note>n1</c:Note></b:Item>' +
        '</b:Items>',
      {
        entity: 'items',
        table: 'items',
        key: ['code'],
        namespaces: { x: 'urn:b' },
        records: { xmlPath: '/x:Items/x:Item' },
        columns: [
          { name: 'code', type: 'text', path: 'x:Code' },
          { name: 'note', type: 'text', path: 'Note' },
        ],
      },
    );
    expect(summary(read)).toEqual([['/b:Items/b:Item[1]', 'B1', 'n1']]);
  });

  it('rejects a repeated element, and lists one or more for jsonb', async () => {
    const read = await readAll(
      '<Items>' +
        '<Item><Code>A</Code><Tag>x</Tag></Item>' +
        '<Item><Code>B</Code><Tag>y</Tag><Tag>z</Tag><Tag>w</Tag></Item>' +
        '<Item><Code>C</Code><Code>D</Code></Item>' +
        '</Items>',
      {
        entity: 'items',
        table: 'items',
        key: ['code'],
        repeated: ['Tag'],
        columns: [
          { name: 'code', type: 'text', path: 'Code' },
          { name: 'tags', type: 'jsonb', path: 'Tag' },
        ],
      },
    );
    expect(summary(read)).toEqual([
      ['/Items/Item[1]', 'A', '["x"]'],
      ['/Items/Item[2]', 'B', '["y","z","w"]'],
      ['/Items/Item[3]', 'repeated_element', 'code'],
    ]);
  });

  it('joins text split by a comment, and keeps CDATA edges', async () => {
    const read = await readAll(
      '<Items>' +
        '<Item><code> A<!-- c -->B </code><note>  <![CDATA[ x ]]> </note></Item>' +
        '<Item><code>C</code><note><![CDATA[]]></note></Item>' +
        '</Items>',
      {
        entity: 'items',
        table: 'items',
        key: ['code'],
        columns: [
          { name: 'code', type: 'text' },
          { name: 'note', type: 'text' },
        ],
      },
    );
    expect(summary(read)).toEqual([
      ['/Items/Item[1]', 'AB', ' x '],
      ['/Items/Item[2]', 'C', ''],
    ]);
  });

  it('names records by their own container, as that changes', async () => {
    const read = await readAll(
      '<Export>' +
        '<Batch><Line><code>A</code></Line><Line><code>B</code></Line></Batch>' +
        '<Batch><Line><code>C</code></Line></Batch>' +
        '</Export>',
      {
        entity: 'lines',
        table: 'lines',
        key: ['code'],
        records: { xmlPath: '/Export/Batch/Line' },
        columns: [{ name: 'code', type: 'text' }],
      },
    );
    expect(summary(read)).toEqual([
      ['/Export/Batch/Line[1]', 'A'],
      ['/Export/Batch/Line[2]', 'B'],
      ['/Export/Batch[2]/Line[1]', 'C'],
    ]);
  });

  it('names a record that is the document itself', async () => {
    const read = await readAll('<Line><code>A</code></Line>', {
      entity: 'lines',
      table: 'lines',
      key: ['code'],
      records: { xmlPath: '/Line' },
      columns: [{ name: 'code', type: 'text' }],
    });
    expect(summary(read)).toEqual([['/Line[1]', 'A']]);
  });
});
