/**
 * The small path languages a definition uses to find records and values
 * in JSON and XML documents. They are parsed here, once, so that a
 * definition is checked when it is registered and the readers only
 * evaluate.
 *
 * JSON: dot-separated keys, `address.city`; a segment of digits indexes
 * an array (`phones.0`). Keys holding a dot cannot be named.
 *
 * XML, relative to the element a path starts at:
 * - `Customer`, `prod/cProd`: child elements, step by step;
 * - `@number`, `ide/@mod`: an attribute, as the last step;
 * - `..`: the parent element; `ancestor::infNFe`: the nearest enclosing
 *   element of that name. Upward steps come first (`../@Id`,
 *   `ancestor::infNFe/@Id`, `../ide/nNF`).
 * - `nfe:det`: a name with a prefix matches by the namespace URI the
 *   definition binds that prefix to, whatever prefix the document uses;
 *   an element name without a prefix matches the local name in any
 *   namespace, an attribute name without one only attributes without a
 *   namespace (as XML has them).
 *
 * A record path (`records.xmlPath`) is a list of child steps from the
 * document root: `/Orders/Order` (the leading `/` may be left out); one
 * that starts with `//` matches those steps at any depth
 * (`//nfe:infNFe`).
 */

export interface XmlName {
  /** Undefined: any namespace. */
  prefix?: string;
  local: string;
}

export type XmlStep =
  | { kind: 'child'; name: XmlName }
  | { kind: 'parent' }
  | { kind: 'ancestor'; name: XmlName };

export interface XmlValuePath {
  steps: XmlStep[];
  /** The attribute read at the end of the steps, if any. */
  attribute?: XmlName;
}

export interface XmlRecordPath {
  steps: XmlName[];
  /** True for `//a/b`: the steps match at any depth. */
  anywhere: boolean;
}

export class PathSyntaxError extends Error {
  override readonly name = 'PathSyntaxError';
}

// Letters, digits and the few marks XML names use; no spaces, `/`, `@`.
const xmlNamePattern =
  /^(?:([A-Za-z_][\w.-]*):)?([A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*)$/u;

function parseXmlName(text: string, path: string): XmlName {
  const match = xmlNamePattern.exec(text);
  if (!match) {
    throw new PathSyntaxError(`"${text}" in "${path}" is not an XML name`);
  }
  const [, prefix, local] = match;
  return prefix === undefined
    ? { local: local as string }
    : { prefix, local: local as string };
}

/** Parses a column, child or repeated path in its XML reading. */
export function parseXmlValuePath(path: string): XmlValuePath {
  const parts = path.split('/');
  const steps: XmlStep[] = [];
  let attribute: XmlName | undefined;
  let goingDown = false;

  for (const [index, part] of parts.entries()) {
    if (part.startsWith('@')) {
      if (index !== parts.length - 1) {
        throw new PathSyntaxError(`"${path}": an attribute must come last`);
      }
      attribute = parseXmlName(part.slice(1), path);
    } else if (part === '..' || part.startsWith('ancestor::')) {
      if (goingDown) {
        throw new PathSyntaxError(
          `"${path}": upward steps (.., ancestor::) must come first`,
        );
      }
      steps.push(
        part === '..'
          ? { kind: 'parent' }
          : {
              kind: 'ancestor',
              name: parseXmlName(part.slice('ancestor::'.length), path),
            },
      );
    } else {
      goingDown = true;
      steps.push({ kind: 'child', name: parseXmlName(part, path) });
    }
  }

  return attribute === undefined ? { steps } : { steps, attribute };
}

/** Parses `records.xmlPath`. */
export function parseXmlRecordPath(path: string): XmlRecordPath {
  const anywhere = path.startsWith('//');
  const body = path.replace(/^\/{1,2}/, '');
  if (body === '') throw new PathSyntaxError('an empty record path');
  const steps = body.split('/').map((part) => parseXmlName(part, path));
  return { steps, anywhere };
}

/** Every prefix an XML path uses, to check against `namespaces`. */
export function prefixesOf(path: XmlValuePath | XmlRecordPath): string[] {
  const names: XmlName[] = [];
  for (const step of path.steps) {
    if ('local' in step) names.push(step);
    else if (step.kind !== 'parent') names.push(step.name);
  }
  if ('attribute' in path && path.attribute) names.push(path.attribute);
  return names.flatMap((name) =>
    name.prefix === undefined ? [] : [name.prefix],
  );
}

/** Parses a dotted JSON path; an empty segment is an error. */
export function parseJsonPath(path: string): string[] {
  const segments = path.split('.');
  if (segments.some((segment) => segment === '')) {
    throw new PathSyntaxError(`"${path}" has an empty segment`);
  }
  return segments;
}

/**
 * Reads a path out of a value. Arrays are indexed by digit segments;
 * anything else that does not lead further gives undefined.
 */
export function valueAtJsonPath<T>(
  value: T,
  segments: readonly string[],
): unknown {
  let current: unknown = value;
  for (const segment of segments) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (typeof current === 'object' && current !== null) {
      current = Object.hasOwn(current, segment)
        ? (current as Record<string, unknown>)[segment]
        : undefined;
    } else {
      return undefined;
    }
  }
  return current;
}
