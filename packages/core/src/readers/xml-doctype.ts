import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * What a DOCTYPE may hold for the XML reader to read the document as
 * written: a name, and an internal subset of element and notation
 * declarations, comments and processing instructions. Anything in it
 * that would change what the document says is refused with HOSTILE_XML
 * before a record is read:
 *
 * - entity declarations and parameter-entity references (the "billion
 *   laughs"), and an external DTD or entity: saxes expands only the five
 *   predefined entities, so a declared one would be an error or a file
 *   read from the server;
 * - attribute defaults (`<!ATTLIST Order number CDATA "PO-7">`): an XML
 *   processor must add them to every element that leaves the attribute
 *   out, saxes does not, and a key read as NULL instead of `PO-7` is a
 *   silently wrong value. Applying them here would come after saxes has
 *   resolved namespaces, wrong for a defaulted `xmlns`.
 *
 * The subset is scanned, not searched: `<!ENTITY` inside a comment or a
 * quoted literal declares nothing.
 */

interface DoctypeFindings {
  external: boolean;
  declaresEntities: boolean;
  /** The first ATTLIST declaration that gives a default, as written. */
  attributeDefault: string | undefined;
}

export function refuseHostileDoctype(doctype: string): void {
  const found = scanDoctype(doctype);
  const details = {
    declaresEntities: found.declaresEntities,
    external: found.external,
    attributeDefaults: found.attributeDefault !== undefined,
  };
  if (found.declaresEntities) {
    throw new ImportError(
      ErrorCodes.HOSTILE_XML,
      'the document declares entities in its DOCTYPE; they are refused',
      { details },
    );
  }
  if (found.external) {
    throw new ImportError(
      ErrorCodes.HOSTILE_XML,
      'the document names an external DTD; it is refused',
      { details },
    );
  }
  if (found.attributeDefault !== undefined) {
    const declaration = shorten(found.attributeDefault);
    throw new ImportError(
      ErrorCodes.HOSTILE_XML,
      `the DOCTYPE gives attribute defaults (${declaration}), which this ` +
        'reader does not apply; the document is refused rather than read ' +
        'without them',
      { details },
    );
  }
}

function scanDoctype(doctype: string): DoctypeFindings {
  const found: DoctypeFindings = {
    external: false,
    declaresEntities: false,
    attributeDefault: undefined,
  };

  // Before the internal subset: the name, and an external ID if any.
  const open = doctype.indexOf('[');
  const head = open < 0 ? doctype : doctype.slice(0, open);
  found.external = /^\s*\S+\s+(SYSTEM|PUBLIC)\b/i.test(head);
  if (open < 0) return found;

  const subset = doctype.slice(open + 1);
  let at = 0;
  while (at < subset.length) {
    if (subset.startsWith('<!--', at)) {
      at = skipPast(subset, '-->', at + 4);
    } else if (subset.startsWith('<?', at)) {
      at = skipPast(subset, '?>', at + 2);
    } else if (subset.startsWith('<!', at)) {
      const end = declarationEnd(subset, at + 2);
      const declaration = subset.slice(at, end);
      const keyword = /^<!([A-Z]+)/i.exec(declaration)?.[1]?.toUpperCase();
      if (keyword === 'ENTITY') found.declaresEntities = true;
      // In an ATTLIST, a quoted literal is always a default value.
      if (keyword === 'ATTLIST' && /["']/.test(declaration)) {
        found.attributeDefault ??= declaration;
      }
      at = end;
    } else if (subset.charCodeAt(at) === 0x25 /* % */) {
      // A parameter entity is declared with <!ENTITY % ...>; a reference
      // alone would stand for declarations that are never read.
      found.declaresEntities = true;
      at += 1;
    } else {
      at += 1;
    }
  }
  return found;
}

function skipPast(text: string, end: string, from: number): number {
  const found = text.indexOf(end, from);
  return found < 0 ? text.length : found + end.length;
}

/** Where a markup declaration ends: its `>`, quoted literals skipped. */
function declarationEnd(text: string, from: number): number {
  let quote: number | undefined;
  for (let at = from; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (quote !== undefined) {
      if (code === quote) quote = undefined;
    } else if (code === 0x22 || code === 0x27) {
      quote = code;
    } else if (code === 0x3e /* > */) {
      return at + 1;
    }
  }
  return text.length;
}

function shorten(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= 80 ? flat : `${flat.slice(0, 77)}...`;
}
