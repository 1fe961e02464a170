// Three projects:
//   harness      the harness's own tests that run in-process (pure modules, reports, two fake
//                peers talking to each other): parallel.
//   harness-e2e  the harness's own tests that start real servers, containers or whole CLI runs
//                (test/stub, test/targets): one file at a time, since each file already runs
//                several processes and two cores are easily oversubscribed.
//   suites       the conformance suites; they need a target, which the CLI or globalSetup starts.
//   selftest     small suites under test/stub/suites that the stub-server tests run through the
//                CLI (MATRIX_CONFORMANCE_SELFTEST=1) to prove how verdicts are reached.
// `npm run test:harness` runs the first two; `matrix-conformance run` drives "suites".
import { defineConfig } from "vitest/config";

const E2E = ["test/stub/*.test.ts", "test/targets/**/*.test.ts", "test/stateres/cli.test.ts"];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "harness",
          include: ["test/**/*.test.ts"],
          exclude: [...E2E, "test/stub/suites/**"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "harness-e2e",
          include: E2E,
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
      {
        test: {
          name: "suites",
          include: ["suites/**/*.test.ts"],
          globalSetup: ["harness/fixtures/global-setup.ts"],
          // Above the longest bounded waiter (federation waits, 25 s), so a wait that runs out
          // fails with its own message rather than vitest's generic timeout.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "selftest",
          include: ["test/stub/suites/**/*.test.ts"],
          globalSetup: ["harness/fixtures/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
