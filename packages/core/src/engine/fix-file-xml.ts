import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import type { ImportDefinition } from '../definitions/import-definition.js';
import type { LoggedRowIssue } from '../ports/error-log.js';
import { documentText } from '../readers/document-text.js';
import { defaultDocumentLimits } from '../readers/document-limits.js';
import { refuseHostileDoctype } from '../readers/xml-doctype.js';
import {
  createXmlRecordMatcher,
  declaredEncoding,
  xmlPathOf,
  type XmlPathNode,
} from '../readers/xml-reader.js';
import {
  EncodedOutput,
  readableText,
  lineEndOf,
  type RejectedRecords,
} from './fix-file-rejected.js';

/**
 * The fix file of an XML import: a document with the same root element,
 * holding only the rejected record elements, each preceded by a comment
 * listing its errors and its children's (the reader ignores comments).
 * The elements between the root and each record are kept, with their
 * attributes and namespace declarations, so the definition's
 * `records.xmlPath` finds the records again; their other content is
 * left out.
 *
 * A record is written back from the parser's events, not copied: names,
 * prefixes, attributes in their order and namespace declarations as
 * written; text and attribute values escaped once (`&amp;`, `&lt;`...);
 * CDATA kept as CDATA, comments and processing instructions as they
 * were. The XML declaration names the encoding the file is written in,
 * which is the one it was read in.
 *
 * TODO: a column path that leaves its record (`../header/x` from the
 * record element) reads elements that the fix file leaves out; such a
 * definition would need those siblings kept too.
 */

export interface XmlFixFileOptions {
  input: Readable;
  /** The encoding the import was read in. */
  readEncoding: string | undefined;
  /** The encoding written: the one read, UTF-16 with its order. */
  encoding: string;
  definition: ImportDefinition;
  rejected: RejectedRecords;
}

interface OpenElement extends XmlPathNode {
  parent: OpenElement | undefined;
  tag: SaxesTagNS;
  /** Children seen per name, for the next child's index. */
  counts: Map<string, number> | undefined;
}

export async function* xmlFixFileBody(
  options: XmlFixFileOptions,
): AsyncGenerator<Buffer> {
  const { input } = options;
  const text = documentText(input, {
    ...(options.readEncoding !== undefined && {
      encoding: options.readEncoding,
    }),
    sniff: declaredEncoding,
  });
  const output = new EncodedOutput(options.encoding);
  let walker: FixWalker | undefined;

  try {
    for await (const chunk of readableText(text.chunks)) {
      walker ??= new FixWalker(options, output, lineEndOf(chunk));
      // The import read this file; one that stops parsing now failed
      // there too, so the fix file ends with the records before it.
      if (!walker.write(chunk)) break;
      const bytes = output.take();
      if (bytes) yield bytes;
    }
    walker?.end();
    const last = output.take(true);
    if (last) yield last;
  } finally {
    input.destroy();
  }
}

/**
 * Walks the parser's events. States: outside the records, where each
 * open element is kept with its tag (for its attributes); inside a
 * record that is not rejected, where events are counted past; and inside
 * a rejected record, where its text is gathered until it closes and is
 * written, after the ancestors it needs.
 */
class FixWalker {
  private readonly parser = new SaxesParser({ xmlns: true, position: true });
  private readonly isRecord: (node: XmlPathNode, depth: number) => boolean;
  private current: OpenElement | undefined;
  private root: OpenElement | undefined;
  private depth = 0;
  private recordCount = 0;
  private record: OpenElement | undefined;
  /** The rejected record's text so far; undefined when not rejected. */
  private recordText: string | undefined;
  private issues: LoggedRowIssue[] = [];
  /** The ancestors written and still open, outermost first. */
  private written: OpenElement[] = [];
  private recordsWritten = 0;
  private declaration = { version: '1.0', standalone: '' };
  private started = false;
  private failed = false;
  /** Where the text saxes holds unreported began; see the reader's. */
  private sinceEvent = 0;

  constructor(
    private readonly options: XmlFixFileOptions,
    private readonly output: EncodedOutput,
    private readonly lineEnd: string,
  ) {
    this.isRecord = createXmlRecordMatcher(options.definition);
    this.parser.on('xmldecl', (declaration) => {
      if (declaration.version) this.declaration.version = declaration.version;
      if (declaration.standalone) {
        this.declaration.standalone = ` standalone="${declaration.standalone}"`;
      }
    });
    this.parser.on('doctype', (doctype) => refuseHostileDoctype(doctype));
    this.parser.on('opentag', (tag) => this.open(tag));
    this.parser.on('closetag', () => this.close());
    this.parser.on('text', (value) => this.append(this.escapeText(value)));
    this.parser.on('cdata', (value) =>
      this.append(
        `<![CDATA[${this.lines(value.replaceAll(']]>', ']]]]><![CDATA[>'))}]]>`,
      ),
    );
    this.parser.on('comment', (value) =>
      this.append(`<!--${this.lines(value)}-->`),
    );
    this.parser.on('processinginstruction', ({ target, body }) =>
      this.append(`<?${target}${body === '' ? '' : ` ${body}`}?>`),
    );
  }

  /** Feeds text; false once the document stopped parsing. */
  write(text: string): boolean {
    if (this.failed) return false;
    try {
      this.parser.write(text);
      // The reader's limits end the fix file where they ended the import:
      // a document too deep or too long in one piece is read no further.
      const held = this.parser.position - this.sinceEvent;
      if (held > defaultDocumentLimits.maxRecordChars) this.failed = true;
    } catch {
      // A refused DOCTYPE ends the reading here too, before any entity
      // is used; so does a malformed document. The import failed there.
      this.failed = true;
    }
    return !this.failed;
  }

  end(): void {
    if (!this.failed) {
      try {
        this.parser.close();
      } catch {
        this.failed = true;
      }
    }

    // A document without a rejected record is its root alone.
    if (this.recordsWritten === 0 && this.root) this.openAncestors([this.root]);
    this.openAncestors([]);
    this.output.write(this.lineEnd);
  }

  private open(tag: SaxesTagNS): void {
    this.sinceEvent = this.parser.position;
    if (this.depth >= defaultDocumentLimits.maxDepth) {
      throw new Error('nested deeper than the reader reads');
    }
    const parent = this.current;
    const counts = parent ? (parent.counts ??= new Map()) : undefined;
    const index = (counts?.get(tag.name) ?? 0) + 1;
    counts?.set(tag.name, index);
    const node: OpenElement = {
      qname: tag.name,
      local: tag.local,
      uri: tag.uri,
      index,
      parent,
      tag,
      counts: undefined,
    };
    this.depth += 1;
    this.current = node;
    this.root ??= node;

    if (this.record) {
      this.append(startTag(tag));
      return;
    }
    if (!this.isRecord(node, this.depth)) return;

    this.record = node;
    this.recordCount += 1;
    const path = xmlPathOf(node);
    const { rejected } = this.options;
    if (rejected.has(this.recordCount, path)) {
      this.issues = rejected.issuesOf(this.recordCount, path);
      this.recordText = startTag(tag);
    }
  }

  private close(): void {
    this.sinceEvent = this.parser.position;
    const node = this.current;
    if (node === undefined) return;
    if (this.record && !node.tag.isSelfClosing) {
      this.append(`</${node.qname}>`);
    }
    if (node === this.record) this.finishRecord(node);
    this.current = node.parent;
    this.depth -= 1;
  }

  private finishRecord(node: OpenElement): void {
    const text = this.recordText;
    this.record = undefined;
    this.recordText = undefined;
    if (text === undefined) return;

    const ancestors: OpenElement[] = [];
    for (let cursor = node.parent; cursor; cursor = cursor.parent) {
      ancestors.unshift(cursor);
    }
    this.openAncestors(ancestors);
    const indent = '  '.repeat(ancestors.length);
    this.output.write(
      this.lineEnd +
        indent +
        errorComment(this.issues, this.lineEnd, indent) +
        this.lineEnd +
        indent +
        text,
    );
    this.recordsWritten += 1;
  }

  /** Closes the written ancestors not in `chain`, opens the others. */
  private openAncestors(chain: readonly OpenElement[]): void {
    this.start();
    let common = 0;
    while (
      common < chain.length &&
      common < this.written.length &&
      chain[common] === this.written[common]
    ) {
      common += 1;
    }
    for (let level = this.written.length - 1; level >= common; level -= 1) {
      const element = this.written[level] as OpenElement;
      this.output.write(
        `${this.lineEnd}${'  '.repeat(level)}</${element.qname}>`,
      );
    }
    for (let level = common; level < chain.length; level += 1) {
      const element = chain[level] as OpenElement;
      const lead = level === 0 ? '' : this.lineEnd + '  '.repeat(level);
      this.output.write(
        lead + startTag({ ...element.tag, isSelfClosing: false }),
      );
    }
    this.written = [...chain];
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const { version, standalone } = this.declaration;
    this.output.write(
      `<?xml version="${version}" encoding="` +
        `${declarationName(this.options.encoding)}"${standalone}?>` +
        this.lineEnd,
    );
  }

  private append(text: string): void {
    this.sinceEvent = this.parser.position;
    if (this.recordText !== undefined) this.recordText += text;
  }

  private escapeText(value: string): string {
    return this.lines(
      value
        .replaceAll('&', '&amp;')
        .replaceAll('<', '&lt;')
        .replaceAll('>', '&gt;')
        .replaceAll('\r', '&#13;'),
    );
  }

  // The parser gives line ends as LF; they go out as the file wrote them.
  private lines(value: string): string {
    return this.lineEnd === '\n' ? value : value.replaceAll('\n', this.lineEnd);
  }
}

function startTag(tag: SaxesTagNS): string {
  const attributes = Object.values(tag.attributes)
    .map(
      (attribute) => ` ${attribute.name}="${escapeAttribute(attribute.value)}"`,
    )
    .join('');
  return `<${tag.name}${attributes}${tag.isSelfClosing ? '/>' : '>'}`;
}

// Whitespace characters as references: written plainly, a reader would
// normalize them to spaces.
function escapeAttribute(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('"', '&quot;')
    .replaceAll('\t', '&#9;')
    .replaceAll('\n', '&#10;')
    .replaceAll('\r', '&#13;');
}

/** One line per error: path, column, code and message, as in JSON's. */
function errorComment(
  issues: readonly LoggedRowIssue[],
  lineEnd: string,
  indent: string,
): string {
  const lines = issues.map((issue) =>
    [issue.position.path ?? '', issue.column ?? '', issue.code, issue.message]
      .map(commentSafe)
      .join(' | '),
  );
  return (
    `<!-- _errors:${lines.map((line) => lineEnd + indent + '  ' + line).join('')}` +
    `${lineEnd}${indent}-->`
  );
}

// A comment may not hold `--`, nor a line break we did not put there.
function commentSafe(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/-(?=-)/g, '- ');
}

/** The name the XML declaration gives the encoding written. */
function declarationName(encoding: string): string {
  switch (encoding) {
    case 'utf-8':
      return 'UTF-8';
    case 'utf-16le':
    case 'utf-16be':
      return 'UTF-16';
    case 'iso-8859-1':
      return 'ISO-8859-1';
    default:
      return encoding;
  }
}
