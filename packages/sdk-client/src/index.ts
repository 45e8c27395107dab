// The public API of @erp-import/sdk-client: the client for any runtime
// with fetch (Node 18 and later, Electron, browsers). File paths are the
// Node-only extra of `@erp-import/sdk-client/node`. Nothing here loads a
// node: module.

import { byteSourceOf, type UploadFile } from './byte-source.js';
import {
  buildClient,
  type ClientOptions,
  type ErpImportClient,
} from './client.js';
import { randomUUID } from './random-uuid.js';

/** A client of the import API; see ClientOptions. */
export function createClient(
  options: ClientOptions,
): ErpImportClient<UploadFile> {
  return buildClient<UploadFile>(options, {
    byteSource: byteSourceOf,
    randomUUID,
  });
}

export {
  ErpImportApiError,
  ErpImportNetworkError,
  isErpImportApiError,
  isErpImportNetworkError,
} from './client-errors.js';
export type { NetworkErrorCode } from './client-errors.js';
export { finalImportStates, isFinalImportState } from './client.js';
export type {
  ClientOptions,
  CreateFromRecordsOptions,
  CreateImportOptions,
  ErpImportClient,
  ErrorPagesQuery,
  ImportsApi,
  OpenApiDocument,
  RequestOptions,
  UploadOptions,
  WaitOptions,
} from './client.js';
export type { UploadFile } from './byte-source.js';
export { encodeRecords } from './records-encoding.js';
export type {
  EncodeRecordsOptions,
  RecordInput,
  RecordsFormat,
  RecordsSource,
} from './records-encoding.js';
export { formatFromFileName } from './file-format.js';
export { defaultRetryOptions } from './retry-policy.js';
export type { RetryOptions } from './retry-policy.js';
export type { RetryEvent, TokenSource, UploadProgress } from './transport.js';
// The contract's types, so callers need not import core themselves.
export type {
  Entity,
  EntityColumn,
  Health,
  ImportErrorPage,
  ImportFormat,
  ImportListPageBody,
  ImportState,
  ListImportsQuery,
  Problem,
  PublicImportRecord,
  RowIssueBody,
} from '@erp-import/core/contract';
