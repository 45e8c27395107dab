export {
  customers,
  demoPrices,
  exampleDefinitions,
  ibptTaxRates,
} from './definitions.js';
export { createExampleTables, exampleTablesSql } from './example-tables.js';
export {
  jsonXmlTablesSql,
  nfeInvoices,
  products,
} from './json-xml-definitions.js';
export type { Queryable } from './example-tables.js';
export {
  configErrorExitCode,
  createExampleHost,
  parseTokens,
  readExampleConfig,
  readExampleConfigOrExit,
} from './example-host.js';
export type { ExampleConfig, ExampleHost } from './example-host.js';
