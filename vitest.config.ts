// Two projects: the harness's own tests (test/), and the conformance suites (suites/), which
// need a target. The CLI drives the "suites" project; `npm run test:harness` runs "harness".
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "harness",
          include: ["test/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "suites",
          include: ["suites/**/*.test.ts"],
          globalSetup: ["harness/fixtures/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
