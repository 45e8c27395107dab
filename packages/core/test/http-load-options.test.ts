import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImportRouter } from '../src/express.js';
import type { EnqueueRequest } from '../src/engine/importer-types.js';
import { createFakeImporter } from './http-fake-importer.js';

// `POST /imports` hands the mode, scope parameters (`param.<column>`),
// export timestamp, brake release and thresholds to the importer.

let server: Server;
let base: string;
const requests: EnqueueRequest[] = [];

beforeAll(async () => {
  const importer = createFakeImporter();
  const enqueue = importer.enqueue.bind(importer);
  importer.enqueue = (request) => {
    requests.push(request);
    return enqueue(request);
  };
  const app = express();
  app.use(
    createImportRouter(importer, {
      authenticate: () => ({ tenant: 'acme' }),
    }),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function upload(query: string): Promise<Response> {
  return fetch(`${base}/imports?entity=customers&${query}`, {
    method: 'POST',
    body: 'customerID\nA\n',
    headers: { authorization: 'Bearer t', 'content-type': 'text/csv' },
  });
}

describe('load options over HTTP', () => {
  it('passes them from the query to the importer', async () => {
    const response = await upload(
      'mode=sync&param.company_id=12&param.year=2024' +
        '&exportedAt=2024-06-01T10%3A00%3A00Z&allowMassDelete=true' +
        '&maxRejected=0&maxRejectedShare=0.25',
    );
    expect(response.status).toBe(202);
    expect(requests.at(-1)?.load).toEqual({
      mode: 'sync',
      params: { company_id: '12', year: '2024' },
      exportedAt: '2024-06-01T10:00:00Z',
      allowMassDelete: true,
      maxRejected: 0,
      maxRejectedShare: 0.25,
    });
  });

  it('sends none when the query has none', async () => {
    expect((await upload('format=csv')).status).toBe(202);
    expect(requests.at(-1)?.load).toEqual({});
  });

  it('refuses a misspelt parameter instead of dropping it', async () => {
    const before = requests.length;
    const misspelt = await upload('mdoe=sync&frmat=json');
    expect(misspelt.status).toBe(400);
    const problem = (await misspelt.json()) as {
      code: string;
      detail: string;
      issues?: Array<{ path: string[] }>;
    };
    expect(problem.code).toBe('INVALID_REQUEST');
    expect(problem.detail).toContain('"mdoe", "frmat"');
    expect(problem.issues?.map((issue) => issue.path)).toEqual([
      ['mdoe'],
      ['frmat'],
    ]);
    // Scope parameters and every documented name still pass.
    expect((await upload('param.company_id=1&fileName=a.csv')).status).toBe(
      202,
    );
    expect(requests.length).toBe(before + 1);
  });

  it('names the field in the message of an invalid request', async () => {
    const response = await fetch(`${base}/imports?format=csv`, {
      method: 'POST',
      body: 'customerID\nA\n',
      headers: { authorization: 'Bearer t', 'content-type': 'text/csv' },
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { detail: string };
    expect(problem.detail).toMatch(/^the request is invalid: entity: /);
  });

  it('refuses an unknown mode and a share above 1', async () => {
    expect((await upload('mode=replace')).status).toBe(400);
    expect((await upload('maxRejectedShare=2')).status).toBe(400);
  });
});
