import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * The bench's input: an ERP customers export, generated deterministically
 * so every run (and every machine) reads the same bytes.
 *
 * Version 1 holds `rows` customers. Version 2 is the next day's export:
 * the same customers, one in ten of them changed (credit limit, status,
 * timestamp), plus 5% new ones at the end.
 */

export interface Customer {
  code: string;
  name: string;
  taxId: string;
  city: string;
  creditLimit: string;
  active: boolean;
  updatedAt: string;
}

export type DataVersion = 1 | 2;
export type DataFormat = 'csv' | 'json' | 'xml';

/** The column names, in file order; the CSV header and the JSON keys. */
export const customerFields = [
  'code',
  'name',
  'tax_id',
  'city',
  'credit_limit',
  'active',
  'updated_at',
] as const;

const cities = [
  'São Paulo',
  'Brasília',
  'Florianópolis',
  'Goiânia',
  'Maceió',
  'Belém',
  'Cuiabá',
  'Ribeirão Preto',
  'Jundiaí',
  'Niterói',
  'Vitória da Conquista',
  'Juazeiro do Norte',
];
const surnames = ['Silva', 'Souza', 'Oliveira', 'Gonçalves', 'Araújo'];
const kinds = ['Comércio', 'Indústria', 'Serviços', 'Distribuidora'];

/** How many rows a version holds. */
export function rowCount(rows: number, version: DataVersion): number {
  return version === 1 ? rows : rows + Math.floor(rows / 20);
}

/** Customer `i` (1-based) as version `version` of the export has it. */
export function customerAt(i: number, version: DataVersion): Customer {
  // A multiplicative hash: spread, repeatable, no state between rows.
  const h = Math.imul(i, 2654435761) >>> 0;
  const changed = version === 2 && i % 10 === 7;
  const cents = (h % 5_000_000) + (changed ? 12_345 : 0);
  const day = (h % 28) + 1;
  const second = h % 86_400;
  return {
    code: `C${String(i).padStart(9, '0')}`,
    // Commas and quotes: the CSV writer must quote it.
    name:
      `${surnames[h % surnames.length]}, ${kinds[(h >>> 8) % kinds.length]} ` +
      `"Filial ${h % 97}" Ltda`,
    // Fourteen digits with leading zeros: a code, never a number.
    taxId: `${String(h).padStart(10, '0')}${String(i % 10_000).padStart(4, '0')}`,
    city: cities[(h >>> 4) % cities.length] as string,
    creditLimit: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
    active: changed ? h % 3 !== 0 : h % 3 === 0,
    updatedAt:
      `2024-${changed ? '08' : '07'}-${String(day).padStart(2, '0')} ` +
      `${hms(second)}`,
  };
}

function hms(second: number): string {
  const h = Math.floor(second / 3600);
  const m = Math.floor((second % 3600) / 60);
  const s = second % 60;
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
}

function csvQuote(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : '&quot;',
  );
}

function csvLine(c: Customer): string {
  return (
    `${c.code},${csvQuote(c.name)},${c.taxId},${csvQuote(c.city)},` +
    `${c.creditLimit},${c.active},${c.updatedAt}\n`
  );
}

function jsonRecord(c: Customer): string {
  // The credit limit is a JSON number, as ERP exports write it.
  return (
    `{"code":"${c.code}","name":${JSON.stringify(c.name)},` +
    `"tax_id":"${c.taxId}","city":${JSON.stringify(c.city)},` +
    `"credit_limit":${c.creditLimit},"active":${c.active},` +
    `"updated_at":"${c.updatedAt}"}`
  );
}

function xmlRecord(c: Customer): string {
  return (
    `<customer><code>${c.code}</code><name>${xmlEscape(c.name)}</name>` +
    `<tax_id>${c.taxId}</tax_id><city>${xmlEscape(c.city)}</city>` +
    `<credit_limit>${c.creditLimit}</credit_limit>` +
    `<active>${c.active}</active><updated_at>${c.updatedAt}</updated_at>` +
    '</customer>\n'
  );
}

/** The export as text pieces of about 64 KiB, header and footer included. */
export function* exportText(
  rows: number,
  version: DataVersion,
  format: DataFormat,
): Generator<string> {
  const count = rowCount(rows, version);
  if (format === 'csv') yield `${customerFields.join(',')}\n`;
  if (format === 'json') yield '[\n';
  if (format === 'xml') {
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<customers>\n';
  }

  let piece = '';
  for (let i = 1; i <= count; i++) {
    const customer = customerAt(i, version);
    if (format === 'csv') piece += csvLine(customer);
    else if (format === 'xml') piece += xmlRecord(customer);
    else piece += `${jsonRecord(customer)}${i < count ? ',' : ''}\n`;
    if (piece.length >= 64 * 1024) {
      yield piece;
      piece = '';
    }
  }
  if (piece !== '') yield piece;

  if (format === 'json') yield ']\n';
  if (format === 'xml') yield '</customers>\n';
}

/** Writes the export to `path`; resolves with its size in bytes. */
export async function writeExport(
  path: string,
  rows: number,
  version: DataVersion,
  format: DataFormat,
): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  for (const text of exportText(rows, version, format)) {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}
