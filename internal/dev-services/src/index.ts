export { freePort, startEmbeddedPostgres } from './embedded-postgres.js';
export type {
  EmbeddedPostgresHandle,
  EmbeddedPostgresOptions,
} from './embedded-postgres.js';
export {
  dockerAnswers,
  resolvePostgres,
  resolveRedis,
  serverMajorVersion,
} from './database-services.js';
export type { ServiceHandle } from './database-services.js';
export { createTestDatabase } from './test-database.js';
export type { TestDatabase } from './test-database.js';
export { sharedDir, sharedPath } from './shared-files.js';
export { workerProcessSettings } from './worker-process-settings.js';
