import { defineConfig } from 'tsup';

export default defineConfig({
  // The client for any runtime with fetch, the Node-only extra (file
  // paths) under `/node`, and the command-line tool (its shebang kept).
  entry: { index: 'src/index.ts', node: 'src/node.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', node: 'src/node.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node18',
  // Only the contract entry of core is ever imported; it stays an import,
  // so a host that also runs core holds one copy of the schemas.
  external: ['@erp-import/core'],
});
