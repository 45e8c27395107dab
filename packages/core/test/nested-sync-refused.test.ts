import { describe, expect, it } from 'vitest';
import { createDefinitionRegistry } from '../src/definitions/definition-registry.js';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { resolveLoadPlan } from '../src/loader/load-plan.js';
import { orderLineColumns } from './order-lines-fixtures.js';

// A sync of records with children is not supported: it would have to
// delete the children the file no longer holds. It is refused with a
// clear answer instead of failing on a foreign key or keeping stale
// children.

function orders(modes: Partial<ImportDefinitionInput>): ImportDefinitionInput {
  return {
    entity: 'orders',
    table: 'orders',
    key: ['order_number'],
    columns: [{ name: 'order_number', type: 'text', path: 'number' }],
    children: [
      {
        entity: 'order_lines',
        table: 'order_lines',
        path: 'details',
        key: ['order_number', 'line_no'],
        columns: [...orderLineColumns],
      },
    ],
    ...modes,
  };
}

describe('a sync of records with children', () => {
  it.each([{ mode: 'sync' as const }, { allowedModes: ['sync' as const] }])(
    'is refused when the definition is registered (%o)',
    (modes) => {
      expect(() => createDefinitionRegistry([orders(modes)])).toThrow(
        expect.objectContaining({
          code: 'INVALID_DEFINITION',
          message: expect.stringMatching(/child records/),
        }),
      );
    },
  );

  it('is refused when an import asks for it of a hand-built definition', () => {
    const definition = defineImport(orders({ mode: 'sync' }));
    expect(() => resolveLoadPlan(definition)).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
    expect(() =>
      resolveLoadPlan(defineImport(orders({})), { mode: 'upsert' }),
    ).not.toThrow();
  });
});
