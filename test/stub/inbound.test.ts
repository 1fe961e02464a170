// Requests the target sends a fake peer are checked, proved through the real CLI: the selftest
// suite test/stub/suites/federation/transactions.test.ts against the stub server, which sends a
// peer one signed transaction, well formed or (malformed-transaction) with `pdus` not an array.
import { describe, expect, test } from "vitest";
import { reportedTest, runAgainst, type CliRun } from "./cli-run.ts";

const ID = "test/stub/suites/federation/transactions.test.ts::inbound > a transaction the target sends a peer matches the spec's request schema";

const test_ = (run: CliRun) => reportedTest(run, ID);

describe.concurrent("inbound requests against the stub", () => {
  test("a well-formed, properly signed transaction passes", async () => {
    const run = await runAgainst("none", ["--area", "transactions"], { selftest: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(test_(run).status).toBe("passed");
  });

  test("a malformed transaction fails the test whose act it is, naming the operation, the rule and the JSON path", async () => {
    const run = await runAgainst("malformed-transaction", ["--area", "transactions"], { selftest: true });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const t = test_(run);
    expect(t.status).toBe("failed");
    expect(t.failure?.kind).toBe("schema");
    expect(t.failure?.signature).toMatch(/^schema: PUT \/_matrix\/federation\/v1\/send\/\{txnId\} request type at \/pdus: must be array, got object/);
    const error = t.error ?? "";
    expect(error).toContain("schema (server-server PUT /_matrix/federation/v1/send/{txnId}): at '/pdus' /pdus: must be array, got object {}");
    expect(error).toContain("[type @ api/server-server/definitions/transaction.yaml#/properties/pdus/type]");
    expect(error, "the inbound request is shown").toMatch(/#\d+ PUT https:\/\/localhost:\d+\/_matrix\/federation\/v1\/send\/stub1/);
    const entry = run.report?.schema.find((e) => e.endpoint === "PUT /_matrix/federation/v1/send/{txnId} request");
    expect(entry?.tests).toEqual([{ id: ID, role: "act", status: "failed" }]);
  });
});
