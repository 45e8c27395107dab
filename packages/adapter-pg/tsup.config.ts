import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Peers and the queue library stay imports of the host's copies.
  external: ['@erp-import/core', 'pg', 'pg-boss'],
});
