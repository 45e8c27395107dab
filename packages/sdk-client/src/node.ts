// @erp-import/sdk-client/node: the client with Node's extras. A file is
// also a path, opened and streamed from disk (and opened again for each
// retry), and the idempotency key comes from node:crypto.

import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { byteSourceOf, type UploadFile } from './byte-source.js';
import {
  buildClient,
  type ClientOptions,
  type ErpImportClient,
} from './client.js';
import { fileSource } from './node-file-source.js';

/**
 * A path, a Node Readable, or anything the portable client takes. A
 * Readable can be read once: an upload of one is retried only if the
 * failure came before its first chunk was read.
 */
export type NodeUploadFile = UploadFile | string | Readable;

export type NodeErpImportClient = ErpImportClient<NodeUploadFile>;

/** A client of the import API that also opens files by path. */
export function createClient(options: ClientOptions): NodeErpImportClient {
  return buildClient<NodeUploadFile>(options, {
    byteSource: (file) =>
      typeof file === 'string'
        ? fileSource(file)
        : byteSourceOf(file as UploadFile),
    randomUUID,
  });
}

export { fileSource } from './node-file-source.js';

// The same names as the portable entry, createClient aside.
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
