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
  createExampleHostOrExit,
  parseTokens,
  readExampleConfig,
  readExampleConfigOrExit,
  unavailableExitCode,
} from './example-host.js';
export type { ExampleConfig, ExampleHost, LogLevel } from './example-host.js';
