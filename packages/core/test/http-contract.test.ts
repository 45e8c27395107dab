import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildOpenApiDocument,
  createProblem,
  importRecordSchema,
  listImportsQuerySchema,
  routePath,
  routes,
  statusForCode,
  toPublicImportRecord,
} from '../src/contract.js';
import { sampleImportRecord } from '../src/testing/sample-import-record.js';

const contractEntry = fileURLToPath(
  new URL('../src/contract.ts', import.meta.url),
);

describe('the contract entry', () => {
  it('pulls in zod and plain modules only', async () => {
    // Bundling for a neutral platform fails on any node: import, and the
    // metafile lists every module the entry reaches.
    const result = await build({
      entryPoints: [contractEntry],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'neutral',
      format: 'esm',
      external: ['zod'],
      logLevel: 'silent',
    });
    const sources = Object.keys(result.metafile.inputs).map((path) =>
      path.replace(/^.*packages\/core\/src\//, ''),
    );
    expect(sources.sort()).toEqual([
      'contract.ts',
      'errors/import-error.ts',
      'http/openapi.ts',
      'http/problem.ts',
      'http/routes.ts',
      'http/schemas.ts',
      'ports/import-record.ts',
    ]);
    const imports = Object.values(result.metafile.outputs).flatMap((output) =>
      output.imports.map((entry) => entry.path),
    );
    expect([...new Set(imports)]).toEqual(['zod']);
  });
});

describe('schemas', () => {
  it('accept a public import record and refuse a broken one', () => {
    const record = toPublicImportRecord(sampleImportRecord());
    expect(importRecordSchema.parse(record)).toEqual(record);
    expect(
      importRecordSchema.safeParse({ ...record, state: 'done' }).success,
    ).toBe(false);
  });

  it('coerce query text and fill defaults', () => {
    expect(listImportsQuerySchema.parse({ limit: '5' })).toEqual({ limit: 5 });
    expect(listImportsQuerySchema.parse({})).toEqual({ limit: 50 });
  });
});

describe('routes', () => {
  it('fill and escape path parameters', () => {
    expect(routePath(routes.getImport, { id: 'a/b c' })).toBe(
      '/imports/a%2Fb%20c',
    );
    expect(() => routePath(routes.getImport)).toThrow(/missing parameter/);
  });

  it('have unique operation ids and method-path pairs', () => {
    const all = Object.values(routes);
    expect(new Set(all.map((route) => route.operationId)).size).toBe(
      all.length,
    );
    expect(
      new Set(all.map((route) => `${route.method} ${route.path}`)).size,
    ).toBe(all.length);
  });
});

describe('problems', () => {
  it('map codes to statuses, unknown ones to 500', () => {
    expect(statusForCode('NOT_FOUND')).toBe(404);
    expect(statusForCode('UNKNOWN_ENTITY')).toBe(422);
    expect(statusForCode('PAYLOAD_TOO_LARGE')).toBe(413);
    expect(statusForCode('INVALID_STATE')).toBe(409);
    expect(statusForCode('DATABASE_ERROR')).toBe(500);
  });

  it('carry type, title, status and code', () => {
    expect(createProblem({ code: 'NOT_FOUND', detail: 'gone' })).toEqual({
      type: 'urn:erp-import:problem:not-found',
      title: 'Not Found',
      status: 404,
      code: 'NOT_FOUND',
      detail: 'gone',
    });
  });
});

describe('the OpenAPI document', () => {
  const document = buildOpenApiDocument() as {
    openapi: string;
    paths: Record<string, Record<string, Record<string, unknown>>>;
    components: { schemas: Record<string, Record<string, unknown>> };
  };

  it('describes every route', () => {
    expect(document.openapi).toBe('3.1.0');
    for (const route of Object.values(routes)) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      expect(document.paths[path]?.[route.method]).toMatchObject({
        operationId: route.operationId,
      });
    }
  });

  it('resolves every $ref to a component', () => {
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const name = ref.slice('"$ref":"#/components/schemas/'.length, -1);
      expect(document.components.schemas).toHaveProperty(name);
    }
  });

  it('documents the query of GET /imports with coerced types', () => {
    const operation = document.paths['/imports']?.get as {
      parameters: Array<{ name: string; required: boolean; schema: unknown }>;
    };
    expect(operation.parameters.map((p) => p.name)).toEqual([
      'entity',
      'state',
      'limit',
      'cursor',
    ]);
    expect(operation.parameters[2]).toMatchObject({
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 500 },
    });
  });

  it('leaves the health check open', () => {
    expect(document.paths['/healthz']?.get?.security).toEqual([]);
  });
});
