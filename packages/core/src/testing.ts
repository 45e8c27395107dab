// The `@erp-import/core/testing` entry: the behaviour suites every adapter
// runs, and the helpers they use. It imports vitest, an optional peer
// dependency of core that only adapter test suites need.

export { awkwardText } from './testing/awkward-text.js';
export { describeErrorLogConformance } from './testing/error-log-conformance.js';
export type { ErrorLogFixture } from './testing/error-log-conformance.js';
export { describeFileStoreConformance } from './testing/file-store-conformance.js';
export type { FileStoreFixture } from './testing/file-store-conformance.js';
export { describeQueueConformance } from './testing/queue-conformance.js';
export type {
  QueueConformanceOptions,
  QueueFixture,
} from './testing/queue-conformance.js';
export { describeStatusStoreConformance } from './testing/status-store-conformance.js';
export type { StatusStoreFixture } from './testing/status-store-conformance.js';
export { sampleImportRecord } from './testing/sample-import-record.js';
export { createLatch, waitFor } from './testing/wait-for.js';
export type { WaitForOptions } from './testing/wait-for.js';
