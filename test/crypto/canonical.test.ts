// Canonical JSON rules beyond the spec's examples:
// https://spec.matrix.org/v1.19/appendices/#canonical-json (text and grammar), strictness per
// room version: https://spec.matrix.org/v1.19/rooms/v6/#canonical-json
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  canonicalJsonBytes,
  canonicalOptionsFor,
  CanonicalJsonError,
  compareCodePoints,
  pythonFloatRepr,
  ROOM_VERSION_IDS,
  ROOM_VERSIONS,
} from "../../harness/crypto/index.ts";

function errorOf(fn: () => unknown): CanonicalJsonError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CanonicalJsonError) return e;
    throw e;
  }
  throw new Error("expected a CanonicalJsonError");
}

describe("key order is by Unicode code point", () => {
  it("puts U+FFFF before U+1F600, where UTF-16 code-unit order says the opposite", () => {
    const value = { "\u{1F600}": 2, "\uFFFF": 1, a: 3 };
    // JavaScript's default sort compares code units: the surrogate 0xD83D sorts before 0xFFFF.
    expect(Object.keys(value).sort()).toEqual(["a", "\u{1F600}", "\uFFFF"]);
    // Python's json.dumps(sort_keys=True), the spec's reference snippet, gives this order:
    expect(canonicalJson(value)).toBe('{"a":3,"\uFFFF":1,"\u{1F600}":2}');
  });

  it("agrees with UTF-8 byte order", () => {
    const keys = ["\uE000", "\u{10000}", "\uD7FF", "z", "\u{10FFFF}", "\uFFFD", "é", "\u{1F600}x", "\u{1F600}"];
    const bytes = (s: string) => Array.from(new TextEncoder().encode(s));
    const byUtf8 = [...keys].sort((a, b) => {
      const x = bytes(a);
      const y = bytes(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    });
    expect([...keys].sort(compareCodePoints)).toEqual(byUtf8);
  });

  it("sorts nested objects but keeps array order", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3, "x"], a: { z: null, y: false } })).toBe(
      '{"a":{"y":false,"z":null},"b":[{"c":2,"d":1},3,"x"]}',
    );
  });
});

describe("string escaping follows the grammar", () => {
  it.each([
    ["quote and backslash", 'a"b\\c', '"a\\"b\\\\c"'],
    ["short escapes", "\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'],
    ["other controls as lower-case \\u00xx", "\u0000\u0001\u000b\u000e\u001f", '"\\u0000\\u0001\\u000b\\u000e\\u001f"'],
    ["DEL and non-ASCII unescaped", "\u007f\u00e9\u2028\u{1F600}", '"\u007f\u00e9\u2028\u{1F600}"'],
    ["slash unescaped", "a/b", '"a/b"'],
  ])("%s", (_name, input, expected) => {
    expect(canonicalJson(input)).toBe(expected);
  });

  it("escapes keys the same way", () => {
    expect(canonicalJson({ "a\nb": 1 })).toBe('{"a\\nb":1}');
  });

  it("encodes as UTF-8", () => {
    expect(Array.from(canonicalJsonBytes("é\u{1F600}"))).toEqual([0x22, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0x22]);
  });

  it("rejects a lone surrogate, which UTF-8 cannot encode", () => {
    const e = errorOf(() => canonicalJson({ content: { body: "x\uD800y" } }));
    expect(e.path).toBe("$.content.body");
    expect(e.message).toMatch(/lone surrogate U\+D800/);
    expect(errorOf(() => canonicalJson({ ["\uDC00"]: 1 })).path).toBe('$["\\udc00"]');
  });
});

describe("numbers", () => {
  it("writes integers plainly and -0 as 0", () => {
    expect(canonicalJson([0, -0, 1, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 1e15])).toBe(
      "[0,0,1,-1,9007199254740991,-9007199254740991,1000000000000000]",
    );
  });

  it("accepts bigints in range", () => {
    expect(canonicalJson({ n: 12n, m: -(2n ** 53n - 1n) })).toBe('{"m":-9007199254740991,"n":12}');
  });

  it.each([
    ["a float", { content: { values: [1, 2.5] } }, "$.content.values[1]", /float 2\.5/],
    ["2**53", { depth: 2 ** 53 }, "$.depth", /integer 9007199254740992 is outside/],
    ["-(2**53)", { a: { b: -(2 ** 53) } }, "$.a.b", /outside/],
    ["a bigint above the range", { n: 2n ** 63n - 1n }, "$.n", /9223372036854775807/],
    ["NaN", { x: NaN }, "$.x", /NaN is not a JSON number/],
    ["Infinity", [Infinity], "$[0]", /Infinity/],
    ["a key needing quotes", { "m.room.power_levels": { "@a:b": 0.5 } }, '$["m.room.power_levels"]["@a:b"]', /float/],
  ])("strict mode rejects %s, naming its path", (_name, value, path, message) => {
    const e = errorOf(() => canonicalJson(value));
    expect(e).toBeInstanceOf(CanonicalJsonError);
    expect(e.path).toBe(path);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(path);
  });

  it("lenient mode (room versions 1-5) writes floats like Python's repr and big integers exactly", () => {
    const lenient = { strict: false };
    expect(canonicalJson({ a: 2.5, b: 2 ** 60, c: 2n ** 63n - 1n, d: 1e21, e: -0.1 }, lenient)).toBe(
      '{"a":2.5,"b":1152921504606846976,"c":9223372036854775807,"d":1000000000000000000000,"e":-0.1}',
    );
    expect(() => canonicalJson(NaN, lenient)).toThrow(CanonicalJsonError);
  });

  it.each([
    [0.1, "0.1"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1.5e-7, "1.5e-07"],
    [123.456, "123.456"],
    [1e15 + 0.5, "1000000000000000.5"],
    [1.5e16, "1.5e+16"],
    [-2.5e300, "-2.5e+300"],
    [5e-324, "5e-324"],
  ])("pythonFloatRepr(%s) = %s", (n, expected) => {
    expect(pythonFloatRepr(n)).toBe(expected);
  });

  it("the room-version table says which versions enforce the strict rules: 6 and later", () => {
    const strict = ROOM_VERSION_IDS.filter((v) => ROOM_VERSIONS[v].format.strictCanonicalJson);
    expect(strict).toEqual(["6", "7", "8", "9", "10", "11", "12"]);
    expect(canonicalOptionsFor("5")).toEqual({ strict: false });
    expect(canonicalOptionsFor("6")).toEqual({ strict: true });
  });
});

describe("values that are not JSON", () => {
  it.each([
    ["undefined at the top", undefined, "$"],
    ["undefined in an array", [1, undefined], "$[1]"],
    ["a function", { f: () => 1 }, "$.f"],
    ["a symbol", { s: Symbol("x") }, "$.s"],
    ["a Date", { when: new Date(0) }, "$.when"],
    ["bytes", { raw: new Uint8Array(2) }, "$.raw"],
    ["a Map", { m: new Map() }, "$.m"],
  ])("rejects %s", (_name, value, path) => {
    expect(errorOf(() => canonicalJson(value)).path).toBe(path);
  });

  it("treats members set to undefined as absent, like JSON.stringify", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it("rejects cycles", () => {
    const a: Record<string, unknown> = { x: [] };
    (a["x"] as unknown[]).push(a);
    expect(errorOf(() => canonicalJson(a)).path).toBe("$.x[0]");
  });

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });

  it("handles a literal __proto__ key as an ordinary member", () => {
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1},"b":1}');
  });

  it("accepts null-prototype objects", () => {
    const o = Object.create(null) as Record<string, unknown>;
    o["k"] = "v";
    expect(canonicalJson(o)).toBe('{"k":"v"}');
  });
});
