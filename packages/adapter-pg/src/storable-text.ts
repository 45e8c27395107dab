/**
 * PostgreSQL text and jsonb cannot hold U+0000, and a JavaScript string
 * that is not well-formed UTF-16 (a lone surrogate) reaches the server as
 * U+FFFD: a NUL in a header cell would make the failure that quotes it
 * unstorable, and two tenants differing in a lone surrogate would become
 * one. So every string the adapter stores goes through `toStorableText`
 * and every string it reads back through `fromStorableText`.
 *
 * The stored form writes NUL, each lone surrogate and U+FFFF itself as
 * U+FFFF followed by the code unit in four lowercase hex digits (`\0` is
 * stored as `\uFFFF0000`, a lone `\uD800` as `\uFFFFd800`). U+FFFF is a
 * noncharacter, which Unicode sets aside for a program's own use, so no
 * text a person writes holds it; every other string is stored as it is,
 * which keeps rows written before this form readable as they were. The
 * form is one-to-one, so lookups compare stored forms.
 */

const unstorable =
  /[\u0000\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const escaped = /\uffff(0000|ffff|d[89a-f][0-9a-f]{2})/g;

export function toStorableText(text: string): string {
  return text.replace(unstorable, escapeUnit);
}

export function fromStorableText(text: string): string {
  return text.includes('\uffff') ? text.replace(escaped, unescapeUnit) : text;
}

/** The same for null, which is stored as it is. */
export function toStorableOrNull(text: string | null): string | null {
  return text === null ? null : toStorableText(text);
}

export function fromStorableOrNull(text: string | null): string | null {
  return text === null ? null : fromStorableText(text);
}

/**
 * A JSON value for a jsonb column, with every string in it (object keys
 * too) in the stored form, as JSON text: pg would send a JavaScript array
 * as a PostgreSQL array otherwise. Null and undefined are SQL NULL.
 */
export function toStorableJson(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value, (_key, member: unknown) =>
    typeof member === 'string'
      ? toStorableText(member)
      : isPlainObject(member)
        ? storableKeys(member)
        : member,
  );
}

/** A jsonb value read back, with its strings and keys restored. */
export function fromStorableJson<T>(value: T): T {
  return restoreJson(value) as T;
}

function storableKeys(object: Record<string, unknown>): object {
  const keys = Object.keys(object);
  if (keys.every((key) => toStorableText(key) === key)) return object;
  return Object.fromEntries(
    keys.map((key) => [toStorableText(key), object[key]]),
  );
}

function restoreJson(value: unknown): unknown {
  if (typeof value === 'string') return fromStorableText(value);
  if (Array.isArray(value)) return value.map(restoreJson);
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, member]) => [
        fromStorableText(key),
        restoreJson(member),
      ]),
    );
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapeUnit(unit: string): string {
  return `\uffff${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function unescapeUnit(_match: string, hex: string): string {
  return String.fromCharCode(Number.parseInt(hex, 16));
}
