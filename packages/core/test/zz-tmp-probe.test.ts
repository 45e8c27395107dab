import { test } from 'vitest';
import { createRequire } from 'node:module';
test('probe', () => {
  console.log('url', import.meta.url);
  console.log('resolve', typeof (import.meta as any).resolve);
  try { console.log((import.meta as any).resolve('tsx/esm/api')); } catch (e) { console.log('resolve err', String(e)); }
  console.log(createRequire(import.meta.url).resolve('tsx/package.json'));
  console.log('execArgv', process.execArgv);
});
