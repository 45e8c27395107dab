import type { Readable } from 'node:stream';
import type { Token } from 'stream-json/core/parser.js';
import type { LoggedRowIssue } from '../ports/error-log.js';
import { documentText } from '../readers/document-text.js';
import {
  readJsonRecordTokens,
  type JsonContainerStep,
} from '../readers/json-reader.js';
import {
  EncodedOutput,
  readableText,
  lineEndOf,
  type RejectedRecords,
} from './fix-file-rejected.js';

/**
 * The fix file of a JSON or NDJSON import: each rejected record as the
 * file wrote it, with an `_errors` member added last, listing its errors
 * and its children's (`path`, `column`, `code`, `message`). A JSON
 * file's records come back in an array at the same `records.jsonPath`
 * (`{"data":{"items":[...]}}`), so the same definition finds them; an
 * NDJSON file's come back one a line. The readers ignore keys that no
 * column maps, so `_errors` is ignored on the way back in.
 *
 * Records are re-serialized from the tokenizer's tokens, not copied:
 * keys keep their order (and repeats), numbers their written digits,
 * strings are escaped again; whitespace is the fix file's own (two
 * spaces, the file's first line end). A record that is not an object is
 * wrapped as `{"_record": ..., "_errors": [...]}`, and an `_errors`
 * member left from an earlier fix file is replaced.
 */

export interface JsonFixFileOptions {
  input: Readable;
  /** The encoding the import was read in. */
  readEncoding: string | undefined;
  /** The encoding written: the one read, UTF-16 with its order. */
  encoding: string;
  format: 'json' | 'ndjson';
  /** The definition's `records.jsonPath`. */
  recordsPath: string | undefined;
  rejected: RejectedRecords;
}

export async function* jsonFixFileBody(
  options: JsonFixFileOptions,
): AsyncGenerator<Buffer> {
  const { input, format, recordsPath, rejected } = options;
  const text = documentText(input, {
    ...(options.readEncoding !== undefined && {
      encoding: options.readEncoding,
    }),
  });
  let lineEnd: '\n' | '\r\n' | undefined;
  async function* chunks(): AsyncGenerator<string> {
    for await (const chunk of readableText(text.chunks)) {
      lineEnd ??= lineEndOf(chunk);
      yield chunk;
    }
  }

  // The reader's own paths: a child's path starts with its record's.
  const basePath = recordsPath === undefined ? '$' : `$.${recordsPath}`;
  const pathOf = (index: number) => `${basePath}[${index}]`;
  const reading = readJsonRecordTokens(chunks(), {
    format,
    recordsPath,
    wanted: (index) => rejected.has(index + 1, pathOf(index)),
  });

  const output = new EncodedOutput(options.encoding);
  let writer: JsonTokenWriter | undefined;
  let container: JsonContainerStep[] = [];
  const start = (): JsonTokenWriter => {
    if (writer) return writer;
    writer = new JsonTokenWriter(
      format === 'json' ? '  ' : undefined,
      lineEnd ?? '\n',
    );
    if (format === 'json') {
      container = reading.container() ?? keysOf(recordsPath);
      for (const token of openingOf(container)) writer.write(token);
    }
    return writer;
  };

  try {
    for await (const found of reading.records) {
      const out = start();
      const issues = rejected.issuesOf(found.index + 1, pathOf(found.index));
      for (const token of withErrors(found.tokens, issues)) out.write(token);
      output.write(out.take());
      if (format === 'ndjson') output.write(lineEnd ?? '\n');
      const chunk = output.take();
      if (chunk) yield chunk;
    }

    const out = start();
    if (format === 'json') {
      for (const token of closingOf(container)) out.write(token);
      output.write(out.take() + (lineEnd ?? '\n'));
    }
    const last = output.take(true);
    if (last) yield last;
  } finally {
    input.destroy();
  }
}

// Before any record is seen, the path's steps are taken as object keys.
function keysOf(recordsPath: string | undefined): JsonContainerStep[] {
  if (recordsPath === undefined) return [];
  return recordsPath.split('.').map((key) => ({ kind: 'object', key }));
}

/** The tokens that open the records' array at its place in the file. */
function openingOf(container: readonly JsonContainerStep[]): Token[] {
  const tokens: Token[] = [];
  for (const step of container) {
    if (step.kind === 'object') {
      tokens.push(
        { name: 'startObject' },
        { name: 'keyValue', value: step.key },
      );
    } else {
      // The elements before the records' array, as nulls: only its
      // index matters to the path.
      tokens.push({ name: 'startArray' });
      for (let index = 0; index < step.index; index += 1) {
        tokens.push({ name: 'nullValue', value: null });
      }
    }
  }
  tokens.push({ name: 'startArray' });
  return tokens;
}

function closingOf(container: readonly JsonContainerStep[]): Token[] {
  const tokens: Token[] = [{ name: 'endArray' }];
  for (const step of [...container].reverse()) {
    tokens.push({ name: step.kind === 'object' ? 'endObject' : 'endArray' });
  }
  return tokens;
}

/** The record's tokens with `_errors` as its last member. */
function* withErrors(
  tokens: readonly Token[],
  issues: readonly LoggedRowIssue[],
): Generator<Token> {
  if (tokens[0]?.name !== 'startObject') {
    yield { name: 'startObject' };
    yield { name: 'keyValue', value: '_record' };
    yield* tokens;
    yield* errorTokens(issues);
    yield { name: 'endObject' };
    return;
  }

  // Depth 1 is the record's own members; a member named `_errors` there
  // (and its whole value) is skipped.
  let depth = 0;
  let skipping = false;
  for (const [index, token] of tokens.entries()) {
    const atRecordLevel = depth === 1;
    if (token.name === 'startObject' || token.name === 'startArray') {
      depth += 1;
    } else if (token.name === 'endObject' || token.name === 'endArray') {
      depth -= 1;
    }

    if (index === tokens.length - 1) {
      yield* errorTokens(issues);
      yield token;
      return;
    }
    if (atRecordLevel && token.name === 'keyValue') {
      skipping = token.value === '_errors';
      if (skipping) continue;
    }
    if (skipping) {
      // The skipped value ends where the depth is back at the record's.
      if (depth === 1) skipping = false;
      continue;
    }
    yield token;
  }
}

function* errorTokens(issues: readonly LoggedRowIssue[]): Generator<Token> {
  const text = (value: string | undefined): Token =>
    value === undefined
      ? { name: 'nullValue', value: null }
      : { name: 'stringValue', value };

  yield { name: 'keyValue', value: '_errors' };
  yield { name: 'startArray' };
  for (const issue of issues) {
    yield { name: 'startObject' };
    yield { name: 'keyValue', value: 'path' };
    yield text(issue.position.path);
    yield { name: 'keyValue', value: 'column' };
    yield text(issue.column);
    yield { name: 'keyValue', value: 'code' };
    yield text(issue.code);
    yield { name: 'keyValue', value: 'message' };
    yield text(issue.message);
    yield { name: 'endObject' };
  }
  yield { name: 'endArray' };
}

/**
 * Writes packed tokens back as JSON text: numbers as their digits,
 * strings and keys escaped by JSON.stringify. With an indent, each
 * member and element on its own line; without, compact (NDJSON).
 */
class JsonTokenWriter {
  private text = '';
  /** Members or elements written so far, per open container. */
  private readonly counts: number[] = [];
  private afterKey = false;

  constructor(
    private readonly indent: string | undefined,
    private readonly lineEnd: string,
  ) {}

  write(token: Token): void {
    switch (token.name) {
      case 'keyValue':
        this.nextItem();
        this.text += JSON.stringify(token.value) + (this.indent ? ': ' : ':');
        this.afterKey = true;
        return;
      case 'startObject':
      case 'startArray':
        this.beginValue();
        this.text += token.name === 'startObject' ? '{' : '[';
        this.counts.push(0);
        return;
      case 'endObject':
      case 'endArray':
        if ((this.counts.pop() ?? 0) > 0) this.newLine();
        this.text += token.name === 'endObject' ? '}' : ']';
        return;
      case 'stringValue':
        this.beginValue();
        this.text += JSON.stringify(token.value);
        return;
      case 'numberValue':
        this.beginValue();
        this.text += token.value;
        return;
      case 'nullValue':
      case 'trueValue':
      case 'falseValue':
        this.beginValue();
        this.text += String(token.value);
        return;
      default:
        return;
    }
  }

  take(): string {
    const text = this.text;
    this.text = '';
    return text;
  }

  private beginValue(): void {
    if (this.afterKey) {
      this.afterKey = false;
      return;
    }
    this.nextItem();
  }

  private nextItem(): void {
    const last = this.counts.length - 1;
    if (last < 0) return;
    if ((this.counts[last] as number) > 0) this.text += ',';
    this.counts[last] = (this.counts[last] as number) + 1;
    this.newLine();
  }

  private newLine(): void {
    if (this.indent === undefined) return;
    this.text += this.lineEnd + this.indent.repeat(this.counts.length);
  }
}
