/**
 * A JSON value the audit log accepts in `detail`: what survives a round trip through JSON unchanged.
 */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * Canonical JSON, the byte string the audit chain hashes (the JSON Canonicalization Scheme, RFC 8785,
 * restricted to what medsign needs):
 * - object members sorted by key in UTF-16 code-unit order (JavaScript's default sort, as RFC 8785
 *   §3.2.3 specifies), members whose value is `undefined` omitted;
 * - no whitespace anywhere;
 * - strings and numbers serialised exactly as ECMAScript `JSON.stringify` does (RFC 8785 §3.2.2), so
 *   lone surrogates come out as `\udXXX` escapes and the text is always valid Unicode;
 * - the result is hashed as UTF-8 (TextEncoder).
 * Refused with a TypeError, never silently coerced: non-finite numbers, bigint, functions, symbols,
 * `undefined` outside an object member, and objects that are not plain (Date, Map, Uint8Array, class
 * instances) — callers turn those into strings or numbers first, so what is hashed is what is stored.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$', new Set());
}

function write(value: unknown, path: string, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${path} is not a finite number`);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON: ${path} is a ${typeof value}`);
  }
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError(`canonical JSON: ${path} is circular`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.map((item: unknown, i) => {
        if (item === undefined) throw new TypeError(`canonical JSON: ${path}[${i}] is undefined`);
        return write(item, `${path}[${i}]`, seen);
      });
      return `[${items.join(',')}]`;
    }
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`canonical JSON: ${path} is not a plain object`);
    }
    const record = obj as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member === undefined) continue;
      members.push(`${JSON.stringify(key)}:${write(member, `${path}.${key}`, seen)}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
