import { readFile } from 'node:fs/promises';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import type { ImportDefinitionInput } from '../src/index.js';

// The real IBPT table (12,096 rows, Windows-1252, `;`) as the sync and
// revert tests use it: the examples' `ibpt_tax_rates`, kept per state
// (`uf`, an import parameter) in sync mode.

export const ibptPath = sharedPath('data', 'TabelaIBPTaxSP23.2.A.csv');

const rate = { type: 'numeric', precision: 7, scale: 2 } as const;

export const ibptSyncDefinition = {
  entity: 'ibpt_tax_rates',
  table: 'ibpt_tax_rates',
  key: ['codigo', 'ex', 'tipo'],
  tenantColumn: 'tenant_id',
  scope: ['uf'],
  mode: 'sync',
  locale: {
    decimalSeparator: '.',
    groupSeparator: '',
    dateFormats: ['dd/MM/yyyy'],
    timeZone: 'America/Sao_Paulo',
  },
  columns: [
    { name: 'codigo', type: 'text', length: 16 },
    { name: 'ex', type: 'text', length: 4, default: '' },
    { name: 'tipo', type: 'text', length: 2 },
    { name: 'descricao', type: 'text' },
    { name: 'nacionalfederal', ...rate },
    { name: 'importadosfederal', ...rate },
    { name: 'estadual', ...rate },
    { name: 'municipal', ...rate },
    { name: 'vigenciainicio', type: 'date' },
    { name: 'vigenciafim', type: 'date' },
    { name: 'chave', type: 'text', length: 20 },
    { name: 'versao', type: 'text', length: 20 },
    { name: 'fonte', type: 'text', length: 100 },
  ],
} satisfies ImportDefinitionInput;

/** The target table; `extraColumns` are SQL column lines to add. */
export function ibptTableSql(extraColumns: string[] = []): string {
  return `
    CREATE TABLE ibpt_tax_rates (
      tenant_id text NOT NULL,
      uf char(2) NOT NULL,
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
      ${extraColumns.map((column) => `${column},`).join('\n      ')}
      PRIMARY KEY (tenant_id, uf, codigo, ex, tipo)
    )`;
}

/** The file's header and record lines, as latin1 text (every byte kept). */
export async function ibptLines(): Promise<{
  header: string;
  records: string[];
}> {
  const lines = (await readFile(ibptPath)).toString('latin1').split('\r\n');
  return {
    header: lines[0]!,
    records: lines.slice(1).filter((line) => line !== ''),
  };
}

/** Lines back into the file's bytes. */
export function ibptBytes(header: string, lines: readonly string[]): Buffer {
  return Buffer.from([header, ...lines, ''].join('\r\n'), 'latin1');
}
