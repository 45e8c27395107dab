import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './example-harness.js';

// A path the API does not have answers problem+json like every other
// error, not Express's HTML page.

const database = useTestDatabase('example_unknown_route');
let example: RunningExample;

beforeAll(async () => {
  example = await startExample(database.url);
});

afterAll(async () => {
  await example?.close();
});

describe('an unknown route', () => {
  it('answers 404 with a problem', async () => {
    const response = await fetch(`${example.baseUrl}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(
      /^application\/problem\+json/,
    );
    expect(await response.json()).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
      detail: 'no route GET /nope',
    });
  });
});
