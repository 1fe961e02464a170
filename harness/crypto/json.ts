// JSON value types and small helpers for handling JSON objects safely (own keys only, no
// prototype tricks with a "__proto__" key, deep copies so callers never share structure).

/**
 * A JSON value as this module handles it. `bigint` is allowed so integers that a `number`
 * cannot hold exactly (room versions 1-5 tolerate them) can still be represented.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

/** True for a plain object (`{}` literal, JSON.parse output or Object.create(null)). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Sets an own, enumerable property. Unlike `obj[key] = v`, this is safe for the key
 * "__proto__", which JSON allows as an ordinary member name.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Own property lookup (never reads through the prototype chain). */
export function getOwn(source: object, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(source, key)
    ? (source as Record<string, unknown>)[key]
    : undefined;
}

export function hasOwn(source: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(source, key);
}

/**
 * Deep copy of plain objects and arrays; other values are returned as they are. Object members
 * whose value is `undefined` are dropped, as JSON.stringify would.
 */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => cloneJson(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const v = value[key];
      if (v !== undefined) setOwn(out, key, cloneJson(v));
    }
    return out as T;
  }
  return value;
}

/** Shallow copy of an object's own enumerable members, without the named keys. */
export function omitKeys(source: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (!keys.includes(key)) setOwn(out, key, (source as Record<string, unknown>)[key]);
  }
  return out;
}
