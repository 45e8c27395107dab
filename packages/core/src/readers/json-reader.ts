import type { Readable } from 'node:stream';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import type {
  ColumnDefinition,
  ImportDefinition,
} from '../definitions/import-definition.js';
import { parseJsonPath, valueAtJsonPath } from '../definitions/record-paths.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { RecordPosition } from '../ports/error-log.js';
import {
  describeChars,
  documentLimitsOf,
  type DocumentLimits,
} from './document-limits.js';
import { documentReader, documentText } from './document-text.js';
import {
  childrenOf,
  derivedValue,
  parentRejectedIssue,
  problemIssue,
  RecordCounter,
  RecordProblem,
  stripPrefix,
  toProblem,
  type ParentContext,
} from './nested-records.js';
import type {
  MappedRecord,
  RawValue,
  ReadItem,
  RecordReader,
} from './record-reader.js';

/**
 * Reads JSON documents as a stream of records: a top-level array, an array
 * at `records.jsonPath` inside an object, or newline-delimited JSON. Only
 * one record is assembled at a time, so memory does not grow with the
 * file.
 *
 * Values keep the text they were written with: stream-json's tokenizer
 * hands numbers over as their source digits, and they stay strings here
 * (`12345678901234567890`, `0.30000000000000004`, `1e5`), listed in the
 * record's `numbers` so that a number column reads them with JSON's
 * syntax rather than the locale's. Booleans become `'true'`/`'false'`,
 * null stays null and a missing field is undefined.
 * An object or array bound for a jsonb column is written back as JSON
 * text (re-serialized: numbers keep their digits, whitespace does not
 * survive); bound for any other column it rejects the record.
 *
 * Child records (`children`) follow their parent, numbered per entity,
 * with the parent's line and a path such as `$[3].details[1]`.
 *
 * A key repeated in one object rejects its record (`duplicate_field`):
 * keeping either value would drop the other unseen. A record, any value
 * outside the records and the nesting depth are limited
 * (document-limits.ts); past a limit the file fails with MALFORMED_FILE.
 *
 * TODO: `unknownFields: 'fail'` is not applied to JSON keys yet (nested
 * paths make "unknown" a per-path question); unmapped keys are ignored.
 */

export interface JsonReaderOptions {
  definition: ImportDefinition;
  /** The declared encoding; JSON is otherwise UTF-8 or UTF-16 by BOM. */
  encoding?: string;
  format: 'json' | 'ndjson';
  /** Overrides the limits on records and depth. */
  limits?: Partial<DocumentLimits>;
}

/** A JSON number, kept as the digits it was written with. */
class JsonNumber {
  constructor(readonly text: string) {}
}

type JsonValue =
  | string
  | boolean
  | null
  | JsonNumber
  | JsonValue[]
  | { [key: string]: JsonValue };
type JsonContainer = JsonValue[] | { [key: string]: JsonValue };

// Long lines (minified JSON) are fed in slices of at most this many
// characters, so a line count stays exact and no slice grows unbounded.
const MAX_SLICE = 64 * 1024;

// No JSON token runs across a line break, but the tokenizer does not
// know it: before it rejects a bad literal (`nope`, `tx`, `fals`) it
// waits for up to 16 more characters, and for an unterminated string up
// to 6, which may be on the following lines. As many blanks, fed after
// each line's break, make it decide on that line, so a failure names the
// line where the bad token starts; between tokens they are whitespace.
// Fed on their own, not appended to the line: the tokenizer then reads
// the slice as it is, without first copying it into a new string.
const LINE_END_BLANKS = ' '.repeat(16);

export function createJsonReader(
  input: Readable,
  options: JsonReaderOptions,
): RecordReader {
  const { definition, format } = options;
  const recordsPath = definition.records?.jsonPath;
  if (format === 'ndjson' && recordsPath !== undefined) {
    throw new ImportError(
      ErrorCodes.UNSUPPORTED_FORMAT,
      `entity "${definition.entity}" reads its records at "${recordsPath}", ` +
        'which newline-delimited JSON cannot have',
    );
  }

  const text = documentText(input, {
    ...(options.encoding !== undefined && { encoding: options.encoding }),
  });
  const mapper = createRecordMapper(definition);
  return documentReader(
    text,
    () =>
      new DocumentWalker({
        format,
        recordsPath:
          recordsPath === undefined ? [] : parseJsonPath(recordsPath),
        limits: documentLimitsOf(options.limits),
        onRecord: (value, index, line, _tokens, duplicate) =>
          mapper(value, index, line, duplicate),
      }),
  );
}

/** A record's source tokens (values packed), for the fix file. */
export interface JsonRecordTokens {
  /** 0-based, in file order: the record's number less one. */
  index: number;
  line: number;
  tokens: readonly Token[];
}

export interface JsonRecordTokenOptions {
  format: 'json' | 'ndjson';
  /** The definition's `records.jsonPath`. */
  recordsPath?: string | undefined;
  /** Whether the record at `index` is wanted. */
  wanted: (index: number) => boolean;
}

export interface JsonRecordTokenReading {
  /** The wanted records, in file order; iterate once. */
  records: AsyncIterable<JsonRecordTokens>;
  /** The containers around the records' array, once it was found. */
  container(): JsonContainerStep[] | undefined;
}

/**
 * Walks a document as the reader does, and hands over the tokens of the
 * wanted records only (the fix file re-serializes them): the same record
 * numbering, one record in memory at a time. A document that stops
 * parsing ends the records there (its import failed at that point too).
 */
export function readJsonRecordTokens(
  chunks: AsyncIterable<string>,
  options: JsonRecordTokenOptions,
): JsonRecordTokenReading {
  const found: JsonRecordTokens[] = [];
  const walker = new DocumentWalker({
    format: options.format,
    recordsPath:
      options.recordsPath === undefined
        ? []
        : parseJsonPath(options.recordsPath),
    limits: documentLimitsOf(undefined),
    captureTokens: options.wanted,
    onRecord: (_value, index, line, tokens) => {
      if (tokens !== undefined) found.push({ index, line, tokens });
      return [];
    },
  });

  async function* records(): AsyncGenerator<JsonRecordTokens> {
    for await (const chunk of chunks) {
      const failure = walker.write(chunk);
      yield* found.splice(0, found.length);
      if (failure) return;
    }
    walker.end();
    yield* found.splice(0, found.length);
  }

  return {
    records: { [Symbol.asyncIterator]: records },
    container: () => walker.recordsContainer,
  };
}

interface OuterFrame {
  kind: 'object' | 'array';
  /** Objects: the key of the value being read. */
  key: string | undefined;
  /** Arrays: how many elements have started. */
  count: number;
}

/** A key an object of the record holds twice: where, relative to it. */
interface DuplicateKey {
  key: string;
  /** `.details`, `.lines[2].note`: the path below the record. */
  path: string;
}

interface WalkerOptions {
  format: 'json' | 'ndjson';
  recordsPath: string[];
  limits: DocumentLimits;
  onRecord: (
    value: JsonValue,
    index: number,
    line: number,
    tokens: Token[] | undefined,
    duplicate: DuplicateKey | undefined,
  ) => ReadItem[];
  /** Whether the record at `index` is also handed over as its tokens. */
  captureTokens?: (index: number) => boolean;
}

/** A container on the way to the records' array (JSON, not NDJSON). */
export type JsonContainerStep =
  { kind: 'object'; key: string } | { kind: 'array'; index: number };

/**
 * Walks the tokens of the document. States: outside the records (only
 * the containers on the way are tracked, to find the records' array),
 * and inside one record (its value is assembled). Text is fed line by
 * line so a failure names its line.
 *
 * Sizes are counted in characters fed: a record from the slice it
 * started in, text outside the records from the last slice that
 * completed a token (the tokenizer holds an unfinished string whole).
 */
class DocumentWalker {
  private readonly tokenize;
  private readonly outer: OuterFrame[] = [];
  private readonly assembly: JsonContainer[] = [];
  private readonly keys: Array<string | undefined> = [];
  private readonly output: ReadItem[] = [];
  /** Index in `outer` of the array whose elements are records, or -1. */
  private recordArray = -1;
  private recordsFound = false;
  private recordIndex = 0;
  private recordLine = 0;
  private line = 1;
  private sawText = false;
  private fed = 0;
  private sliceStart = 0;
  private sinceToken = 0;
  private recordStart = 0;
  /** Values the current record may still take. */
  private valuesLeft = 0;
  private duplicate: DuplicateKey | undefined;
  /** The key or string being gathered from its chunks. */
  private readonly text: TextChunks;
  /** The current record's tokens, when they are captured. */
  private captured: Token[] | undefined;
  /** The containers around the records' array, once it is found. */
  recordsContainer: JsonContainerStep[] | undefined;

  constructor(private readonly options: WalkerOptions) {
    // Strings and keys come in chunks, gathered here: packed by the
    // tokenizer, each escape would cost a string of its own until the
    // end of the value (40 bytes for the 2 characters of `\\`).
    this.tokenize = jsonParser({
      packKeys: false,
      packStrings: false,
      packNumbers: true,
      streamNumbers: false,
      jsonStreaming: options.format === 'ndjson',
    });
    this.text = new TextChunks(options.limits.maxRecordChars);
  }

  /** Feeds text; returns the failure that stopped the document, if any. */
  write(text: string): ImportError | undefined {
    try {
      let start = 0;
      while (start < text.length) {
        const newline = text.indexOf('\n', start);
        const end =
          newline < 0 || newline - start >= MAX_SLICE
            ? Math.min(text.length, start + MAX_SLICE)
            : newline + 1;
        this.feed(text.slice(start, end));
        if (text.charCodeAt(end - 1) === 10) this.line += 1;
        start = end;
      }
      return undefined;
    } catch (error) {
      if (error instanceof ImportError) return error;
      throw error;
    }
  }

  end(): ImportError | undefined {
    if (!this.sawText) {
      return new ImportError(ErrorCodes.EMPTY_FILE, 'the document is empty');
    }
    try {
      this.feed(undefined);
    } catch (error) {
      if (error instanceof ImportError) return error;
      throw error;
    }
    if (this.options.format === 'json' && !this.recordsFound) {
      const where = this.options.recordsPath.join('.');
      return new ImportError(
        ErrorCodes.MALFORMED_FILE,
        where === ''
          ? 'the document holds no array of records'
          : `the document has no array at "${where}"`,
        { details: { line: this.line } },
      );
    }
    return undefined;
  }

  take(): ReadItem[] {
    return this.output.splice(0, this.output.length);
  }

  private feed(slice: string | undefined): void {
    if (!this.sawText && slice !== undefined) this.sawText = /\S/.test(slice);
    this.sliceStart = this.fed;
    this.fed += slice?.length ?? 0;
    let tokens: Token[];
    try {
      if (slice === undefined) {
        tokens = tokensOf(this.tokenize(none()));
      } else {
        tokens = tokensOf(this.tokenize(slice));
        if (slice.charCodeAt(slice.length - 1) === 10) {
          // Valid JSON leaves nothing held past a line break, so these
          // make no tokens; a bad token fails here, on its own line.
          for (const token of tokensOf(this.tokenize(LINE_END_BLANKS))) {
            tokens.push(token);
          }
        }
      }
    } catch (error) {
      throw this.malformed(error);
    }
    // Keys and strings are gathered whole, into the tokens they make.
    for (const token of tokens) {
      switch (token.name) {
        case 'startKey':
        case 'startString':
          break;
        case 'stringChunk':
          if (!this.text.add(token.value)) throw this.tooLong();
          break;
        case 'endKey':
          this.onToken({ name: 'keyValue', value: this.text.take() });
          break;
        case 'endString':
          this.onToken({ name: 'stringValue', value: this.text.take() });
          break;
        default:
          this.onToken(token);
      }
    }
    this.checkHeld(tokens.length > 0);
  }

  private tooLong(): ImportError {
    const limit = this.options.limits.maxRecordChars;
    if (this.assembly.length > 0) {
      return this.tooLarge(`more than ${describeChars(limit)} of JSON`, {
        maxRecordChars: limit,
      });
    }
    return new ImportError(
      ErrorCodes.MALFORMED_FILE,
      `a value running past line ${this.line} is longer than ` +
        `${describeChars(limit)}, the most one value may hold`,
      { details: { line: this.line, maxRecordChars: limit } },
    );
  }

  /** Neither a record nor a token outside one may pass the limit. */
  private checkHeld(sawTokens: boolean): void {
    const limit = this.options.limits.maxRecordChars;
    if (this.assembly.length > 0) {
      if (this.fed - this.recordStart > limit) {
        throw this.tooLarge(`more than ${describeChars(limit)} of JSON`, {
          maxRecordChars: limit,
        });
      }
      return;
    }
    // A number the tokenizer gathers alone, or a record that is one.
    if (sawTokens) {
      this.sinceToken = this.fed;
    } else if (this.fed - this.sinceToken > limit) {
      throw this.tooLong();
    }
  }

  private tooLarge(what: string, limit: Record<string, number>): ImportError {
    const recordNumber = this.recordIndex + 1;
    return new ImportError(
      ErrorCodes.MALFORMED_FILE,
      `record ${recordNumber} (line ${this.recordLine}) holds ${what}, ` +
        'more than one record may hold',
      { details: { recordNumber, line: this.recordLine, ...limit } },
    );
  }

  // Checked as a container opens, the records' containers counted.
  private checkDepth(): void {
    const depth = this.outer.length + this.assembly.length + 1;
    const limit = this.options.limits.maxDepth;
    if (depth > limit) {
      throw new ImportError(
        ErrorCodes.MALFORMED_FILE,
        `values nest deeper than ${limit} levels at line ${this.line}`,
        { details: { line: this.line, maxDepth: limit } },
      );
    }
  }

  private malformed(error: unknown): ImportError {
    const reason = error instanceof Error ? error.message : String(error);
    return new ImportError(
      ErrorCodes.MALFORMED_FILE,
      `malformed JSON at line ${this.line}, after ${this.recordIndex} ` +
        `record(s): ${reason}`,
      {
        cause: error,
        details: { line: this.line, recordsBefore: this.recordIndex },
      },
    );
  }

  private onToken(token: Token): void {
    if (this.assembly.length > 0) {
      this.assemble(token);
      return;
    }

    switch (token.name) {
      case 'keyValue': {
        const frame = this.outer.at(-1);
        if (frame) frame.key = token.value;
        return;
      }
      case 'endObject':
      case 'endArray':
        if (this.outer.length - 1 === this.recordArray) this.recordArray = -1;
        this.outer.pop();
        return;
      case 'startObject':
      case 'startArray':
      case 'stringValue':
      case 'numberValue':
      case 'nullValue':
      case 'trueValue':
      case 'falseValue':
        this.onOuterValue(token);
        return;
      default:
        return;
    }
  }

  /** A value starts outside any record: a record, the array, or neither. */
  private onOuterValue(token: Token): void {
    const parent = this.outer.at(-1);
    if (parent?.kind === 'array') parent.count += 1;

    const isRecord =
      this.options.format === 'ndjson'
        ? this.outer.length === 0
        : parent !== undefined && this.outer.length - 1 === this.recordArray;
    if (isRecord) {
      this.recordLine = this.line;
      this.recordStart = this.sliceStart;
      this.valuesLeft = this.options.limits.maxRecordNodes;
      this.duplicate = undefined;
      this.captured = this.options.captureTokens?.(this.recordIndex)
        ? []
        : undefined;
      this.assemble(token);
      return;
    }

    if (this.options.format === 'json' && this.atRecordsPath()) {
      if (this.recordsFound) {
        // A repeated key on the way: reading both arrays would take
        // records twice over, either one alone would drop the other.
        throw new ImportError(
          ErrorCodes.MALFORMED_FILE,
          `the document holds "${this.options.recordsPath.join('.')}" ` +
            `twice (again at line ${this.line})`,
          { details: { line: this.line } },
        );
      }
      if (token.name === 'startArray') {
        this.checkDepth();
        this.recordsFound = true;
        this.recordsContainer = this.outer.map((frame) =>
          frame.kind === 'object'
            ? { kind: 'object', key: frame.key ?? '' }
            : { kind: 'array', index: frame.count - 1 },
        );
        this.outer.push({ kind: 'array', key: undefined, count: 0 });
        this.recordArray = this.outer.length - 1;
        return;
      }
      if (token.name === 'nullValue' && this.options.recordsPath.length > 0) {
        this.recordsFound = true;
        return;
      }
      const where = this.options.recordsPath.join('.') || 'the top level';
      throw new ImportError(
        ErrorCodes.MALFORMED_FILE,
        `expected an array of records at ${where} (line ${this.line})`,
        { details: { line: this.line } },
      );
    }

    if (token.name === 'startObject' || token.name === 'startArray') {
      this.checkDepth();
      this.outer.push({
        kind: token.name === 'startObject' ? 'object' : 'array',
        key: undefined,
        count: 0,
      });
    }
  }

  private atRecordsPath(): boolean {
    const path = this.options.recordsPath;
    if (this.outer.length !== path.length) return false;
    return this.outer.every((frame, index) =>
      frame.kind === 'object'
        ? frame.key === path[index]
        : String(frame.count - 1) === path[index],
    );
  }

  /** Builds the current record's value, one token at a time. */
  private assemble(token: Token): void {
    this.captured?.push(token);
    let value: JsonValue;
    switch (token.name) {
      case 'startObject':
        this.checkDepth();
        this.assembly.push(Object.create(null) as Record<string, JsonValue>);
        this.keys.push(undefined);
        return;
      case 'startArray':
        this.checkDepth();
        this.assembly.push([]);
        this.keys.push(undefined);
        return;
      case 'keyValue':
        this.keys[this.keys.length - 1] = token.value;
        return;
      case 'endObject':
      case 'endArray':
        this.keys.pop();
        value = this.assembly.pop() as JsonContainer;
        break;
      case 'stringValue':
        value = token.value;
        break;
      case 'numberValue':
        value = new JsonNumber(token.value);
        break;
      case 'nullValue':
        value = null;
        break;
      case 'trueValue':
        value = true;
        break;
      case 'falseValue':
        value = false;
        break;
      default:
        return;
    }

    // Every value counted once, a container as it closes.
    if (--this.valuesLeft < 0) throw this.tooManyValues();
    const container = this.assembly.at(-1);
    if (container === undefined) {
      this.completeRecord(value);
    } else if (Array.isArray(container)) {
      container.push(value);
    } else {
      // A null-prototype object: `__proto__` is an ordinary key here. No
      // value is undefined, so a load finds a repeat (faster than `in`).
      const key = this.keys.at(-1) ?? '';
      if (container[key] !== undefined) {
        this.duplicate ??= this.duplicateAt(key);
      }
      container[key] = value;
    }
  }

  private tooManyValues(): ImportError {
    const limit = this.options.limits.maxRecordNodes;
    return this.tooLarge(`more than ${limit} values`, {
      maxRecordNodes: limit,
    });
  }

  /** Where in the record the object being built holds `key` again. */
  private duplicateAt(key: string): DuplicateKey {
    let path = '';
    for (let level = 1; level < this.assembly.length; level += 1) {
      const outer = this.assembly[level - 1] as JsonContainer;
      path += Array.isArray(outer)
        ? `[${outer.length}]`
        : `.${this.keys[level - 1] ?? ''}`;
    }
    return { key, path: `${path}.${key}` };
  }

  private completeRecord(value: JsonValue): void {
    const index = this.recordIndex;
    const tokens = this.captured;
    this.recordIndex += 1;
    this.captured = undefined;
    const items = this.options.onRecord(
      value,
      index,
      this.recordLine,
      tokens,
      this.duplicate,
    );
    for (const item of items) this.output.push(item);
  }
}

/**
 * The chunks of one key or string, joined once at its end. A thousand
 * chunks at a time are joined on the way, so that a value made of
 * escapes (a chunk each) holds no more than its characters; one chunk,
 * the common case, comes back as it is. False from `add` once the text
 * passes `limit` characters.
 */
class TextChunks {
  private first = '';
  private count = 0;
  private chunks: string[] = [];
  private joined: string[] = [];
  private length = 0;

  constructor(private readonly limit: number) {}

  add(chunk: string): boolean {
    this.length += chunk.length;
    this.count += 1;
    if (this.count === 1) {
      this.first = chunk;
    } else {
      if (this.count === 2) this.chunks = [this.first];
      this.chunks.push(chunk);
      if (this.chunks.length === 1024) {
        this.joined.push(this.chunks.join(''));
        this.chunks = [];
      }
    }
    return this.length <= this.limit;
  }

  take(): string {
    let text = this.first;
    if (this.count > 1) {
      this.joined.push(this.chunks.join(''));
      text = this.joined.join('');
      this.chunks = [];
      this.joined = [];
    }
    this.first = '';
    this.count = 0;
    this.length = 0;
    return text;
  }
}

// stream-json's flushable parser takes `none` to mean the end of input.
const noneSymbol = Symbol.for('object-stream.none');
function none(): string {
  return noneSymbol as unknown as string;
}

function tokensOf(result: unknown): Token[] {
  if (typeof result === 'object' && result !== null && 'values' in result) {
    return (result as { values: Token[] }).values;
  }
  return [];
}

interface CompiledColumn {
  column: ColumnDefinition;
  /** The paths tried in order: the declared path, or the names. */
  paths: string[][];
}

function compileColumns(definition: ImportDefinition): CompiledColumn[] {
  return definition.columns.map((column) => ({
    column,
    paths:
      column.path !== undefined
        ? [parseJsonPath(column.path)]
        : column.sources.map((source) => [source]),
  }));
}

/**
 * Maps one record (and its children) onto the definition's columns. The
 * items come out in the order the engine wants them: the parent, then its
 * children.
 */
function createRecordMapper(definition: ImportDefinition) {
  const counter = new RecordCounter();
  const basePath =
    definition.records?.jsonPath === undefined
      ? '$'
      : `$.${definition.records.jsonPath}`;
  const columns = compileColumns(definition);
  const children = childrenOf(definition).map((child) => ({
    child,
    path: parseJsonPath(child.path),
    columns: compileColumns(child),
  }));

  return (
    value: JsonValue,
    index: number,
    line: number,
    duplicate: DuplicateKey | undefined,
  ): ReadItem[] => {
    const path = `${basePath}[${index}]`;
    const position: RecordPosition = {
      recordNumber: counter.next(definition.entity),
      line,
      path,
    };
    const items: ReadItem[] = [];

    let mapped: MappedValues | undefined;
    try {
      if (duplicate !== undefined) throw duplicateProblem(duplicate, path);
      mapped = mapValues(value, columns, undefined, 0);
    } catch (error) {
      items.push(problemIssue(toProblem(error), position, undefined));
    }
    if (mapped) items.push(recordItem(position, mapped, undefined));

    for (const { child, path: childPath, columns: childColumns } of children) {
      const list = isObject(value) ? valueAtJsonPath(value, childPath) : null;
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) {
        if (mapped) {
          // The parent was emitted; its children cannot be read, so the
          // file does not say what it claims: reject the children's list.
          items.push(
            problemIssue(
              new RecordProblem(
                'invalid_children',
                `"${child.path}" is not an array`,
              ),
              { ...position, path: `${path}.${child.path}` },
              child.entity,
            ),
          );
        }
        continue;
      }

      const parent: ParentContext | undefined = mapped && {
        definition,
        values: mapped.values,
        ...(mapped.numbers !== undefined && { numbers: mapped.numbers }),
      };
      for (const [childIndex, element] of list.entries()) {
        const childPosition: RecordPosition = {
          recordNumber: counter.next(child.entity),
          line,
          path: `${path}.${child.path}[${childIndex}]`,
        };
        if (parent === undefined) {
          items.push(parentRejectedIssue(childPosition, child.entity));
          continue;
        }
        try {
          const childValues = mapValues(
            element as JsonValue,
            childColumns,
            parent,
            childIndex + 1,
          );
          items.push(recordItem(childPosition, childValues, child.entity));
        } catch (error) {
          items.push(
            problemIssue(toProblem(error), childPosition, child.entity),
          );
        }
      }
    }
    return items;
  };
}

function duplicateProblem(duplicate: DuplicateKey, path: string) {
  return new RecordProblem(
    'duplicate_field',
    `the key "${duplicate.key}" appears twice in one object ` +
      `(${path}${duplicate.path}); the record is rejected rather than ` +
      'one of its values dropped',
  );
}

/** A record's values, and which of them were JSON numbers. */
interface MappedValues {
  values: RawValue[];
  numbers?: number[];
}

// Written out rather than spread: this runs for every record.
function recordItem(
  position: RecordPosition,
  { values, numbers }: MappedValues,
  entity: string | undefined,
): ReadItem {
  const record: MappedRecord =
    entity === undefined ? { position, values } : { position, values, entity };
  if (numbers !== undefined) record.numbers = numbers;
  return { kind: 'record', record };
}

function mapValues(
  value: JsonValue,
  columns: readonly CompiledColumn[],
  parent: ParentContext | undefined,
  ordinal: number,
): MappedValues {
  if (!isObject(value)) {
    throw new RecordProblem(
      'record_not_object',
      `the record is ${describe(value)}, not an object`,
    );
  }
  let numbers: number[] | undefined;
  const values = columns.map(({ column, paths }, index) => {
    const derived = derivedValue(column, parent, ordinal);
    if (derived) {
      if (derived.number) (numbers ??= []).push(index);
      return derived.value;
    }
    let found: unknown;
    for (const path of paths) {
      found = valueAtJsonPath(value, path);
      if (found !== undefined) break;
    }
    if (found instanceof JsonNumber) (numbers ??= []).push(index);
    return stripPrefix(
      toRawValue(found as JsonValue | undefined, column),
      column,
    );
  });
  return numbers === undefined ? { values } : { values, numbers };
}

function toRawValue(
  value: JsonValue | undefined,
  column: ColumnDefinition,
): RawValue {
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof JsonNumber) return value.text;
  if (column.type === 'jsonb') return toJsonText(value);
  throw new RecordProblem(
    'unexpected_structure',
    `column "${column.name}" expects a single value, found ${describe(value)}`,
    column.name,
    toJsonText(value),
  );
}

/** JSON text of a value, numbers written with their original digits. */
function toJsonText(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof JsonNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  const members = Object.keys(value).map(
    (key) => `${JSON.stringify(key)}:${toJsonText(value[key] as JsonValue)}`,
  );
  return `{${members.join(',')}}`;
}

function isObject(
  value: JsonValue | undefined,
): value is { [key: string]: JsonValue } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof JsonNumber)
  );
}

function describe(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof JsonNumber) return 'a number';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
