import { describe, expect, it } from "vitest";
import { loadSpecSync } from "../../harness/schemas/index.ts";
import { SPEC_DIR } from "./helpers.ts";

describe("the whole spec compiles under the harness's ajv options", () => {
  it("compiles every documented JSON response schema and every event schema", () => {
    // A Spec of its own, so the cost measured is the full compilation.
    const spec = loadSpecSync(SPEC_DIR);
    const { compiled, failures, ms } = spec.compileAll();
    expect(failures).toEqual([]);
    expect(compiled).toBeGreaterThan(500);
    expect(spec.warnings).toEqual([]);
    console.log(`compileAll: ${compiled} schemas in ${Math.round(ms)} ms; ${spec.costSummary()}`);
  });
});
