import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    contract: 'src/contract.ts',
    express: 'src/express.ts',
    // The parse thread's entry: a file of its own, next to the others,
    // which the engine starts as a worker thread (engine/row-source.ts).
    'parse-thread': 'src/engine/parse-thread.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
