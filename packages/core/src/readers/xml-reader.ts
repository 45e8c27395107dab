import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import type {
  ColumnDefinition,
  ImportDefinition,
} from '../definitions/import-definition.js';
import {
  parseXmlRecordPath,
  parseXmlValuePath,
  type XmlName,
  type XmlValuePath,
} from '../definitions/record-paths.js';
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
import type { RawValue, ReadItem, RecordReader } from './record-reader.js';
import { refuseHostileDoctype } from './xml-doctype.js';

/**
 * Reads XML documents as a stream of records. saxes tokenizes the
 * document (namespace-aware, streaming); the elements above the records
 * are kept as a stack of names and attributes, and each record element is
 * collected into a small tree of its own, mapped, and dropped. Memory is
 * one record deep, whatever the file's size, and a record, any text
 * outside the records and the nesting depth are limited
 * (document-limits.ts). See the README, "XML".
 *
 * Text is taken as the document means it: entities and CDATA decoded once
 * by saxes, never parsed as numbers. An element's text loses the
 * whitespace around it (indentation), but not the whitespace inside a
 * CDATA section; an empty element is null, `xsi:nil="true"` is null, and
 * an absent one is undefined. Attribute values are kept as written.
 *
 * A DOCTYPE that declares entities, names an external DTD or gives
 * attribute defaults is refused with HOSTILE_XML (xml-doctype.ts);
 * saxes itself expands only the five predefined entities and character
 * references.
 *
 * A document that never reaches the records' container (a root other
 * than the path's first step) fails with MALFORMED_FILE: it is another
 * document, not one without records.
 *
 * TODO: `unknownFields: 'fail'` is not applied to XML elements yet;
 * unmapped elements and attributes are ignored.
 */

export interface XmlReaderOptions {
  definition: ImportDefinition;
  /** Overrides the encoding the XML declaration names; UTF-8 otherwise. */
  encoding?: string;
  /** Overrides the limits on records and depth. */
  limits?: Partial<DocumentLimits>;
}

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

interface XmlAttribute {
  local: string;
  uri: string;
  value: string;
}

/** An element: an ancestor of the records (attributes only) or in one. */
interface XmlNode {
  qname: string;
  local: string;
  uri: string;
  attributes: readonly XmlAttribute[];
  parent: XmlNode | undefined;
  /** 1-based among the siblings of the same name. */
  index: number;
  line: number;
  /** Collected inside records only, and only once there is one. */
  children: XmlNode[] | undefined;
  /**
   * The element's text: one string, the usual case, or its parts once a
   * second text or a CDATA section comes (entities and comments split
   * an element's text).
   */
  text: string | string[] | undefined;
  /** Indexes in `text`, then a list, of the parts that were CDATA. */
  cdata: number[] | undefined;
  /** Children seen per name, for the next child's index. */
  counts: Map<string, number> | undefined;
}

const noAttributes: readonly XmlAttribute[] = [];
const noChildren: readonly XmlNode[] = [];

interface NameMatcher {
  local: string;
  /** Undefined: any namespace. */
  uri: string | undefined;
}

export function createXmlReader(
  input: Readable,
  options: XmlReaderOptions,
): RecordReader {
  const { definition } = options;
  const mapping = compileMapping(definition);
  const limits = documentLimitsOf(options.limits);
  const text = documentText(input, {
    ...(options.encoding !== undefined && { encoding: options.encoding }),
    sniff: declaredEncoding,
  });
  return documentReader(text, () => new XmlWalker(mapping, limits));
}

/** The encoding an XML declaration at the start of `head` names. */
export function declaredEncoding(head: Buffer): string | undefined {
  const start = head.toString('latin1', 0, Math.min(head.length, 512));
  const declaration =
    /^<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(start);
  return declaration?.[1];
}

/**
 * Walks saxes events. States: outside the records, where each open
 * element is a node on `stack` with its attributes only; and inside one
 * record, where every element and text is kept under `record` until the
 * record element closes and is mapped.
 *
 * Positions are saxes's, in characters of the text: outside a record,
 * `sinceEvent` is where the text saxes holds unreported began (a text
 * run, comments, a start tag with its attributes); inside one,
 * `record.start` is where the record began. Either may grow by at most
 * the limit, checked at every event and after every slice written.
 */
/**
 * The 1-based place of a new element among its parent's children of the
 * same name, inside a record: its siblings are kept there, and a record
 * holds few, so counting them costs less than a map for every element.
 */
function siblingIndex(parent: XmlNode, qname: string): number {
  let index = 1;
  for (const sibling of parent.children ?? []) {
    if (sibling.qname === qname) index += 1;
  }
  return index;
}

/** The same above the records, where children are counted, not kept. */
function countedIndex(parent: XmlNode | undefined, qname: string): number {
  if (parent === undefined) return 1;
  const counts = (parent.counts ??= new Map());
  const index = (counts.get(qname) ?? 0) + 1;
  counts.set(qname, index);
  return index;
}

// Most elements of an export have no attributes: no array for them.
function attributesOf(tag: SaxesTagNS): XmlNode['attributes'] {
  for (const name in tag.attributes) {
    if (Object.hasOwn(tag.attributes, name)) {
      return Object.values(tag.attributes);
    }
  }
  return noAttributes;
}

class XmlWalker {
  private readonly parser: SaxesParser<{ xmlns: true; position: true }>;
  private readonly output: ReadItem[] = [];
  private current: XmlNode | undefined;
  private record: { node: XmlNode; start: number; nodes: number } | undefined;
  private depth = 0;
  private tagLine = 1;
  private tagStart = 0;
  private sinceEvent = 0;
  /** An element the records sit in, or a record, was seen. */
  private containerReached = false;
  private root: string | undefined;
  private sawText = false;

  constructor(
    private readonly mapping: CompiledMapping,
    private readonly limits: DocumentLimits,
  ) {
    this.parser = new SaxesParser({ xmlns: true, position: true });
    this.parser.on('doctype', (doctype) => {
      refuseHostileDoctype(doctype);
      this.passed();
    });
    this.parser.on('opentagstart', () => this.startTag());
    this.parser.on('opentag', (tag) => this.open(tag));
    this.parser.on('closetag', () => this.close());
    this.parser.on('text', (value) => this.addText(value, false));
    this.parser.on('cdata', (value) => this.addText(value, true));
    // No more handlers: a seventh turns the parser's properties into a
    // dictionary and saxes runs at half its speed. Comments and
    // processing instructions outside the records are not events here,
    // so a run of them with nothing between counts as one.
  }

  /** Feeds text; returns the failure that stopped the document, if any. */
  write(text: string): ImportError | undefined {
    if (!this.sawText) this.sawText = /\S/.test(text);
    return this.guard(() => {
      this.parser.write(text);
      this.checkHeld();
    });
  }

  end(): ImportError | undefined {
    if (!this.sawText) {
      return new ImportError(ErrorCodes.EMPTY_FILE, 'the document is empty');
    }
    return (
      this.guard(() => this.parser.close()) ??
      (this.containerReached ? undefined : this.mapping.notReached(this.root))
    );
  }

  take(): ReadItem[] {
    return this.output.splice(0, this.output.length);
  }

  private guard(step: () => unknown): ImportError | undefined {
    try {
      step();
      return undefined;
    } catch (error) {
      if (error instanceof ImportError) return error;
      const reason = error instanceof Error ? error.message : String(error);
      return new ImportError(
        ErrorCodes.MALFORMED_FILE,
        `malformed XML at line ${this.parser.line}: ${reason}`,
        {
          cause: error,
          details: {
            line: this.parser.line,
            column: this.parser.column + 1,
          },
        },
      );
    }
  }

  // Before saxes resolves the tag's namespaces, which walks every open
  // element: refused here, a deep document costs only the levels allowed.
  private startTag(): void {
    this.tagLine = this.parser.line;
    this.tagStart = this.parser.position;
    if (this.depth >= this.limits.maxDepth) {
      throw new ImportError(
        ErrorCodes.HOSTILE_XML,
        `elements nest deeper than ${this.limits.maxDepth} levels at line ` +
          `${this.tagLine}; such a document is refused`,
        { details: { line: this.tagLine, maxDepth: this.limits.maxDepth } },
      );
    }
    this.passed();
  }

  private open(tag: SaxesTagNS): void {
    const parent = this.current;
    const index = this.record
      ? siblingIndex(parent!, tag.name)
      : countedIndex(parent, tag.name);

    const attributes = attributesOf(tag);
    const node: XmlNode = {
      qname: tag.name,
      local: tag.local,
      uri: tag.uri,
      attributes,
      parent,
      index,
      line: this.tagLine,
      children: undefined,
      text: undefined,
      cdata: undefined,
      counts: undefined,
    };
    this.depth += 1;
    this.current = node;
    this.root ??= node.qname;

    if (this.record) {
      (parent!.children ??= []).push(node);
      this.grow(1 + attributes.length);
    } else if (this.mapping.isRecord(node, this.depth)) {
      this.record = { node, start: this.tagStart, nodes: 0 };
      this.containerReached = true;
      this.grow(1 + attributes.length);
    } else {
      if (this.mapping.isContainer?.(node, this.depth)) {
        this.containerReached = true;
      }
      this.passed();
    }
  }

  private close(): void {
    const node = this.current;
    if (node === undefined) return;
    if (node === this.record?.node) {
      this.checkHeld();
      for (const item of this.mapping.map(node)) this.output.push(item);
      this.record = undefined;
    }
    this.current = node.parent;
    this.depth -= 1;
    this.passed();
  }

  private addText(value: string, cdata: boolean): void {
    const node = this.current;
    if (this.record === undefined || node === undefined) {
      this.passed();
      return;
    }
    // Blank text before an element's first text is indentation, which
    // valueOf would trim away: not kept, it costs nothing.
    if (node.text === undefined && !cdata) {
      if (isBlank(value)) return;
      node.text = value;
    } else {
      // A list only for the elements that need one: a record's every
      // element would otherwise carry an array to the collector.
      const parts = Array.isArray(node.text)
        ? node.text
        : (node.text = node.text === undefined ? [] : [node.text]);
      if (cdata) (node.cdata ??= []).push(parts.length);
      parts.push(value);
    }
    this.grow(1);
  }

  /** An event outside a record: what saxes held is handed over. */
  private passed(): void {
    if (this.record === undefined) this.sinceEvent = this.parser.position;
  }

  private grow(nodes: number): void {
    const record = this.record!;
    record.nodes += nodes;
    if (record.nodes > this.limits.maxRecordNodes) {
      throw this.tooLarge(
        `more than ${this.limits.maxRecordNodes} elements, attributes and ` +
          'texts',
        { maxRecordNodes: this.limits.maxRecordNodes },
      );
    }
    this.checkHeld();
  }

  /** Neither a record nor what saxes holds outside one may pass the limit. */
  private checkHeld(): void {
    const limit = this.limits.maxRecordChars;
    const position = this.parser.position;
    if (this.record !== undefined) {
      if (position - this.record.start > limit) {
        throw this.tooLarge(`more than ${describeChars(limit)} of XML`, {
          maxRecordChars: limit,
        });
      }
    } else if (position - this.sinceEvent > limit) {
      const line = this.parser.line;
      throw new ImportError(
        ErrorCodes.MALFORMED_FILE,
        `a text, tag, comment or DOCTYPE running past line ${line} is longer ` +
          `than ${describeChars(limit)}, the most one may hold`,
        { details: { line, maxRecordChars: limit } },
      );
    }
  }

  private tooLarge(what: string, limit: Record<string, number>): ImportError {
    const record = this.record!.node;
    const path = xmlPathOf(record);
    return new ImportError(
      ErrorCodes.MALFORMED_FILE,
      `the record at ${path} (line ${record.line}) holds ${what}, more ` +
        'than one record may hold',
      { details: { path, line: record.line, ...limit } },
    );
  }
}

function isBlank(text: string): boolean {
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code !== 0x20 && code !== 0x0a && code !== 0x09 && code !== 0x0d) {
      return false;
    }
  }
  return true;
}

interface CompiledColumn {
  column: ColumnDefinition;
  /** The paths tried in order: the declared path, or the names. */
  paths: CompiledPath[];
  /** The declared path is listed in `repeated`. */
  repeated: boolean;
}

interface CompiledPath {
  steps: Array<
    | { kind: 'child'; name: NameMatcher }
    | { kind: 'parent' }
    | { kind: 'ancestor'; name: NameMatcher }
  >;
  attribute: NameMatcher | undefined;
  /**
   * For a path that names one child element, the usual case: its place
   * among the lists an element's children are sorted into (sortChildren).
   */
  slot: number | undefined;
}

/**
 * The columns of one definition, with the one-child-name paths among
 * them gathered by name: an element's children are then sorted into
 * those paths' slots in one pass, rather than every path walking them.
 */
interface CompiledColumns {
  columns: CompiledColumn[];
  slotsByLocal: Map<string, Array<{ slot: number; uri: string | undefined }>>;
  /** Per slot: the child found, or the children when it repeats. */
  found: Array<XmlNode | XmlNode[] | undefined>;
}

type ElementMatcher = (node: XmlPathNode, depth: number) => boolean;

interface CompiledMapping {
  isRecord: ElementMatcher;
  /** Undefined when the record path leaves no container to look for. */
  isContainer: ElementMatcher | undefined;
  /** The failure of a document that never reached the records. */
  notReached(root: string | undefined): ImportError;
  map(record: XmlNode): ReadItem[];
}

/** The part of an element that record paths and positions look at. */
export interface XmlPathNode {
  qname: string;
  local: string;
  uri: string;
  /** 1-based among the siblings of the same name. */
  index: number;
  parent: XmlPathNode | undefined;
}

function nameMatcherOf(definition: ImportDefinition) {
  const namespaces = definition.namespaces ?? {};
  return (name: XmlName): NameMatcher => {
    if (name.prefix === undefined) return { local: name.local, uri: undefined };
    const uri = namespaces[name.prefix];
    if (uri === undefined) {
      throw new ImportError(
        ErrorCodes.INVALID_DEFINITION,
        `entity "${definition.entity}": the prefix "${name.prefix}" is not ` +
          'declared in namespaces',
      );
    }
    return { local: name.local, uri };
  };
}

/**
 * Whether an element (at `depth`, the root being 1) is one of the
 * definition's records; an element inside a record is never asked.
 */
export function createXmlRecordMatcher(
  definition: ImportDefinition,
): ElementMatcher {
  const path = recordPathOf(definition);
  // Without a declared path, the children of the root are the records.
  if (path === undefined) return (_node, depth) => depth === 2;
  return stepsMatcher(path.steps, path.anywhere);
}

/**
 * Whether an element is the one the records sit in: `/Orders` for
 * `/Orders/Order`, the root when no path is declared. Undefined when the
 * path leaves none to look for (`/Order`, `//infNFe`): the document must
 * then hold a record itself.
 */
function createXmlContainerMatcher(
  definition: ImportDefinition,
): ElementMatcher | undefined {
  const path = recordPathOf(definition);
  if (path === undefined) return (_node, depth) => depth === 1;
  if (path.steps.length < 2) return undefined;
  return stepsMatcher(path.steps.slice(0, -1), path.anywhere);
}

function recordPathOf(
  definition: ImportDefinition,
): { steps: NameMatcher[]; anywhere: boolean } | undefined {
  const declared = definition.records?.xmlPath;
  if (declared === undefined) return undefined;
  const path = parseXmlRecordPath(declared);
  return {
    steps: path.steps.map(nameMatcherOf(definition)),
    anywhere: path.anywhere,
  };
}

/** Steps matched upward from the element; `anywhere`: at any depth. */
function stepsMatcher(
  steps: readonly NameMatcher[],
  anywhere: boolean,
): ElementMatcher {
  return (node, depth) => {
    if (anywhere ? depth < steps.length : depth !== steps.length) {
      return false;
    }
    let cursor: XmlPathNode | undefined = node;
    for (let step = steps.length - 1; step >= 0; step -= 1) {
      if (!cursor || !matches(cursor, steps[step] as NameMatcher)) {
        return false;
      }
      cursor = cursor.parent;
    }
    return true;
  };
}

function notReachedFailure(
  definition: ImportDefinition,
  root: string | undefined,
): ImportError {
  const path = definition.records?.xmlPath ?? '';
  const container = path.slice(0, path.lastIndexOf('/'));
  const where =
    container === '' || container === '/'
      ? `holds no element at "${path}"`
      : `has no element at "${container}", where the records of ` +
        `"${path}" sit`;
  return new ImportError(
    ErrorCodes.MALFORMED_FILE,
    `the document ${where}` +
      (root === undefined ? '' : ` (its root is <${root}>)`) +
      `; it is not a file of entity "${definition.entity}"`,
    { details: { recordsPath: path, ...(root !== undefined && { root }) } },
  );
}

function compileMapping(definition: ImportDefinition): CompiledMapping {
  const matcher = nameMatcherOf(definition);
  const compilePath = (path: XmlValuePath): CompiledPath => ({
    steps: path.steps.map((step) =>
      step.kind === 'parent'
        ? step
        : { kind: step.kind, name: matcher(step.name) },
    ),
    attribute: path.attribute && matcher(path.attribute),
    slot: undefined,
  });
  const compileColumns = (target: ImportDefinition): CompiledColumns => {
    const repeated = new Set(target.repeated ?? []);
    const columns = target.columns.map((column) => ({
      column,
      paths:
        column.path !== undefined
          ? [compilePath(parseXmlValuePath(column.path))]
          : column.sources.map((source): CompiledPath => ({
              steps: [
                { kind: 'child', name: { local: source, uri: undefined } },
              ],
              attribute: undefined,
              slot: undefined,
            })),
      repeated: column.path !== undefined && repeated.has(column.path),
    }));
    return withChildSlots(columns);
  };

  const columns = compileColumns(definition);
  const children = childrenOf(definition).map((child) => ({
    child,
    path: compilePath(parseXmlValuePath(child.path)),
    columns: compileColumns(child),
  }));
  const counter = new RecordCounter();
  const recordPath = recordPathCache();

  const map = (record: XmlNode): ReadItem[] => {
    const position: RecordPosition = {
      recordNumber: counter.next(definition.entity),
      line: record.line,
      path: recordPath(record),
    };
    const items: ReadItem[] = [];

    let values: RawValue[] | undefined;
    try {
      values = mapValues(record, columns, undefined, 0);
      items.push({ kind: 'record', record: { position, values } });
    } catch (error) {
      items.push(problemIssue(toProblem(error), position, undefined));
    }

    const parent: ParentContext | undefined = values && { definition, values };
    for (const { child, path, columns: childColumns } of children) {
      // A child path is a list whether it matches once, many times or
      // never: an empty container yields no children and no issue.
      const elements = select(record, path).filter(
        (found): found is XmlNode => typeof found !== 'string',
      );
      for (const [offset, element] of elements.entries()) {
        const childPosition: RecordPosition = {
          recordNumber: counter.next(child.entity),
          line: element.line,
          path: xmlPathOf(element, record),
        };
        if (parent === undefined) {
          items.push(parentRejectedIssue(childPosition, child.entity));
          continue;
        }
        try {
          items.push({
            kind: 'record',
            record: {
              position: childPosition,
              values: mapValues(element, childColumns, parent, offset + 1),
              entity: child.entity,
            },
          });
        } catch (error) {
          items.push(
            problemIssue(toProblem(error), childPosition, child.entity),
          );
        }
      }
    }
    return items;
  };

  return {
    isRecord: createXmlRecordMatcher(definition),
    isContainer: createXmlContainerMatcher(definition),
    notReached: (root) => notReachedFailure(definition, root),
    map,
  };
}

/** Gives each one-child-name path a slot, and indexes the slots by name. */
function withChildSlots(columns: CompiledColumn[]): CompiledColumns {
  const slotsByLocal: CompiledColumns['slotsByLocal'] = new Map();
  let slots = 0;
  for (const { paths } of columns) {
    for (const path of paths) {
      const [only, ...more] = path.steps;
      if (only?.kind !== 'child' || more.length > 0) continue;
      if (path.attribute !== undefined) continue;
      path.slot = slots;
      const named = slotsByLocal.get(only.name.local) ?? [];
      named.push({ slot: slots, uri: only.name.uri });
      slotsByLocal.set(only.name.local, named);
      slots += 1;
    }
  }
  return { columns, slotsByLocal, found: new Array(slots).fill(undefined) };
}

/** Sorts an element's children into the slots of the paths they match. */
function sortChildren(element: XmlNode, compiled: CompiledColumns): void {
  const { found, slotsByLocal } = compiled;
  found.fill(undefined);
  for (const child of element.children ?? noChildren) {
    const named = slotsByLocal.get(child.local);
    if (named === undefined) continue;
    for (const { slot, uri } of named) {
      if (uri !== undefined && uri !== child.uri) continue;
      const held = found[slot];
      if (held === undefined) found[slot] = child;
      else if (Array.isArray(held)) held.push(child);
      else found[slot] = [held, child];
    }
  }
}

function mapValues(
  element: XmlNode,
  compiled: CompiledColumns,
  parent: ParentContext | undefined,
  ordinal: number,
): RawValue[] {
  sortChildren(element, compiled);
  const { columns } = compiled;
  const values = new Array<RawValue>(columns.length);
  for (let index = 0; index < columns.length; index += 1) {
    const { column, paths, repeated } = columns[index] as CompiledColumn;
    const derived = derivedValue(column, parent, ordinal);
    if (derived) {
      values[index] = derived.value;
      continue;
    }

    // The first path that finds anything: one element, the usual case,
    // or a list of elements or attribute values.
    let found: XmlNode | ReadonlyArray<XmlNode | string> = noChildren;
    for (const path of paths) {
      found =
        path.slot === undefined
          ? select(element, path)
          : (compiled.found[path.slot] ?? noChildren);
      if (!Array.isArray(found) || found.length > 0) break;
    }
    const list = Array.isArray(found) ? found : undefined;
    if (repeated && column.type === 'jsonb') {
      const items = list ?? [found as XmlNode];
      values[index] = JSON.stringify(items.map((item) => valueOf(item)));
      continue;
    }
    if (list !== undefined && list.length > 1) {
      throw new RecordProblem(
        'repeated_element',
        `column "${column.name}" matches ${list.length} elements; a path ` +
          'that repeats must be declared in `repeated` and read as jsonb',
        column.name,
      );
    }
    const first = list === undefined ? (found as XmlNode) : list[0];
    values[index] = stripPrefix(
      first === undefined ? undefined : valueOf(first),
      column,
    );
  }
  return values;
}

/** Evaluates a path from `start`: the elements, or attribute values, found. */
function select(
  start: XmlNode,
  path: CompiledPath,
): ReadonlyArray<XmlNode | string> {
  let nodes: XmlNode[] = [start];
  for (const step of path.steps) {
    const next: XmlNode[] = [];
    for (const node of nodes) {
      if (step.kind === 'parent') {
        if (node.parent) next.push(node.parent);
      } else if (step.kind === 'ancestor') {
        let cursor = node.parent;
        while (cursor && !matches(cursor, step.name)) cursor = cursor.parent;
        if (cursor) next.push(cursor);
      } else {
        for (const child of node.children ?? noChildren) {
          if (matches(child, step.name)) next.push(child);
        }
      }
    }
    nodes = next;
  }

  const attribute = path.attribute;
  if (attribute === undefined) return nodes;
  return nodes.flatMap((node) =>
    node.attributes
      .filter(
        (candidate) =>
          candidate.local === attribute.local &&
          (attribute.uri === undefined
            ? candidate.uri === ''
            : candidate.uri === attribute.uri),
      )
      .map((candidate) => candidate.value),
  );
}

function matches(
  node: { local: string; uri: string },
  name: NameMatcher,
): boolean {
  return (
    node.local === name.local &&
    (name.uri === undefined || node.uri === name.uri)
  );
}

/**
 * The value of an attribute, or an element's text: the whitespace at its
 * edges outside CDATA removed; null when nothing is left and no CDATA
 * section was there, or when it says `xsi:nil="true"`.
 */
function valueOf(found: XmlNode | string): string | null {
  if (typeof found === 'string') return found;
  const nil = found.attributes.find(
    (attribute) => attribute.uri === XSI && attribute.local === 'nil',
  );
  if (nil && (nil.value.trim() === 'true' || nil.value.trim() === '1')) {
    return null;
  }

  const { text, cdata } = found;
  if (text === undefined) return null;
  if (typeof text === 'string') {
    const trimmed = text.trim();
    return trimmed === '' ? null : trimmed;
  }
  if (cdata === undefined) {
    const trimmed = (
      text.length === 1 ? (text[0] as string) : text.join('')
    ).trim();
    return trimmed === '' ? null : trimmed;
  }

  // With CDATA, only the text outside it loses its edges' whitespace.
  const parts = [...text];
  for (let index = 0; index < parts.length; index += 1) {
    if (cdata.includes(index)) break;
    parts[index] = (parts[index] as string).trimStart();
    if (parts[index] !== '') break;
  }
  for (let index = parts.length - 1; index >= 0; index -= 1) {
    if (cdata.includes(index)) break;
    parts[index] = (parts[index] as string).trimEnd();
    if (parts[index] !== '') break;
  }
  return parts.join('');
}

/**
 * xmlPathOf for records, which share their container: the container's
 * part is built once, not once a record.
 */
function recordPathCache(): (record: XmlNode) => string {
  let container: XmlNode | undefined;
  let prefix = '';
  return (record) => {
    const parent = record.parent;
    if (parent === undefined) return xmlPathOf(record);
    if (parent !== container) {
      // The container's steps as xmlPathOf writes them above a record:
      // indexed only where they are not the first of their name.
      container = parent;
      const steps: string[] = [];
      for (let cursor: XmlNode | undefined = parent; cursor;) {
        steps.push(
          cursor.index > 1 ? `${cursor.qname}[${cursor.index}]` : cursor.qname,
        );
        cursor = cursor.parent;
      }
      prefix = `/${steps.reverse().join('/')}`;
    }
    return `${prefix}/${record.qname}[${record.index}]`;
  };
}

/**
 * `/Orders/Order[2]/Lines/Line[1]`: every step by its name as written,
 * with its index among same-named siblings where it is not the first; the
 * element itself and its record always carry theirs.
 */
export function xmlPathOf(
  node: XmlPathNode,
  record: XmlPathNode = node,
): string {
  const steps: string[] = [];
  for (
    let cursor: XmlPathNode | undefined = node;
    cursor;
    cursor = cursor.parent
  ) {
    const indexed = cursor === node || cursor === record || cursor.index > 1;
    steps.push(indexed ? `${cursor.qname}[${cursor.index}]` : cursor.qname);
  }
  return `/${steps.reverse().join('/')}`;
}
