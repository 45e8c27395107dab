import iconv from 'iconv-lite';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The files the demo imports on a machine with none of its own: a price
 * list as a Brazilian ERP exports it (Windows-1252, `;`, `1.234,56`,
 * dd/MM/yyyy, S/N), with a few rows each broken in its own way, and a
 * later export of it where some prices changed.
 */
export interface SampleFile {
  path: string;
  entity: string;
  /** What the demo says before uploading it. */
  label: string;
}

const header = 'Código;Descrição;Preço;Vigência;Ativo';

const products = [
  'Café torrado e moído 500 g',
  'Açúcar cristal 1 kg',
  'Feijão carioca – tipo 1',
  'Pão de forma integral',
  'Óleo de soja 900 ml',
  'Macarrão espaguete nº 8',
  'Azeite extra virgem “premium”',
  'Guaraná 2 L',
];

export const sampleRowCount = 2_000;

function priceRow(index: number, bump = 0): string {
  const sku = String(index).padStart(6, '0');
  const name = `${products[index % products.length]} (lote ${index})`;
  const cents = 199 + ((index * 7919) % 250_000) + bump;
  const day = String((index % 28) + 1).padStart(2, '0');
  const active = index % 10 === 0 ? 'N' : 'S';
  return `${sku};"${name}";${brazilianMoney(cents)};${day}/07/2024;${active}`;
}

/** 123456 cents as `1.234,56`. */
function brazilianMoney(cents: number): string {
  const whole = Math.floor(cents / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `${whole},${String(cents % 100).padStart(2, '0')}`;
}

// One row for each way a value can be refused, so the error log shows a
// few kinds; the last passes every check of the file and is refused by the
// table's own CHECK, alone, while the rest applies.
const brokenRows = [
  '900001;"Preço com ponto decimal";12.50;01/07/2024;S',
  '900002;"Data impossível";10,00;31/02/2024;S',
  '900003;;10,00;01/07/2024;S',
  '900004;"Ativo ilegível";10,00;01/07/2024;talvez',
  '900005-CODIGO-LONGO-DEMAIS;"Código longo";10,00;01/07/2024;S',
  '900006;"Preço negativo";-1,00;01/07/2024;S',
];

export async function writeSampleFiles(directory: string): Promise<{
  prices: SampleFile;
  update: SampleFile;
}> {
  const rows = Array.from({ length: sampleRowCount }, (_, i) =>
    priceRow(i + 1),
  );
  // Spread the broken rows through the file rather than at its end.
  const withBroken = [...rows];
  brokenRows.forEach((row, i) => {
    withBroken.splice((i + 1) * 300, 0, row);
  });

  // The later export: every fiftieth price went up, and two products are
  // new.
  const updated = rows.map((row, i) =>
    (i + 1) % 50 === 0 ? priceRow(i + 1, 1_000) : row,
  );
  updated.push(priceRow(sampleRowCount + 1), priceRow(sampleRowCount + 2));

  const pricesPath = join(directory, 'precos-2024-07.csv');
  const updatePath = join(directory, 'precos-2024-08.csv');
  await writeFile(pricesPath, windows1252([header, ...withBroken]));
  await writeFile(updatePath, windows1252([header, ...updated]));

  return {
    prices: {
      path: pricesPath,
      entity: 'demo_prices',
      label: `a price list: ${sampleRowCount} products and ${brokenRows.length} broken rows`,
    },
    update: {
      path: updatePath,
      entity: 'demo_prices',
      label: 'the next month: 40 prices changed, 2 new products',
    },
  };
}

function windows1252(lines: string[]): Buffer {
  return iconv.encode(`${lines.join('\r\n')}\r\n`, 'windows-1252');
}
