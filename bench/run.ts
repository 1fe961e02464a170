// npm run bench: prints figures; asserts nothing. Sections:
//   target   Synapse start-up with the install cached, on a fresh data directory (and, with
//            --cold, the first install into an empty cache)
//   suite    the client-server suites alone (the first slice), then the whole conformance suite,
//            each through the CLI: wall time, tests per second, request latency seen by the
//            client, the harness's own overhead per exchange, and where the tests' time went
//            (server / waits / harness, per area and in total: see "time split" below)
//   others   bench/*.ts files of other layers (state resolution, ...), run in turn
// Options: --only target|suite|others, --starts N (default 3), --cold, --areas "a b" (the suite
// section runs only these areas instead of the two runs above; "all": the whole suite once),
// --report FILE (no run: print the time split of an existing report.json and exit), --keep DIR
// (copy each run's report.json there instead of discarding it).
//
// Time split: each test's log fixture splits its time (fixtures included) by the spans its
// exchanges recorded (harness/client/exchange.ts splitTime): "server" is time waiting on the
// target's answers; "waits" is time in long-polls (a GET with a timeout: /sync) and federation
// waiters (waitForPdu/waitForEdu), i.e. waiting for the target to do something asynchronous;
// "harness" is the rest: the test's own code, schema checks, signing and hashing, a fake peer
// answering the target, and, on a loaded machine, waiting for a CPU. Sums are over tests, which
// run in parallel, so they exceed the wall time.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { RunReport, TimeTotals } from "../harness/report/model.ts";
import { defaultCacheDir, startTarget } from "../harness/targets/index.ts";

const ROOT = resolve(import.meta.dirname, "..");
const { values } = parseArgs({ options: { only: { type: "string" }, starts: { type: "string", default: "3" }, cold: { type: "boolean", default: false }, areas: { type: "string" }, report: { type: "string" }, keep: { type: "string" } } });
const want = (s: string) => !values.only || values.only === s;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function benchTarget(): Promise<void> {
  console.log("## target: Synapse");
  const reportDir = await mkdtemp(join(tmpdir(), "mc-bench-"));
  if (values.cold) {
    const cache = await mkdtemp(join(tmpdir(), "mc-bench-cache-"));
    const t0 = performance.now();
    const d = await startTarget({ target: "synapse", reportDir, cacheDir: cache });
    const ms = performance.now() - t0;
    await d.stop();
    console.log(`first start into an empty cache (pip install + start): ${fmt(ms)}`);
    await rm(cache, { recursive: true, force: true });
  }
  await startTarget({ target: "synapse", reportDir, cacheDir: defaultCacheDir() }).then((d) => d.stop()); // make sure it is provisioned
  const times: number[] = [];
  for (let i = 0; i < Number(values.starts); i++) {
    const t0 = performance.now();
    const d = await startTarget({ target: "synapse", reportDir, cacheDir: defaultCacheDir() });
    times.push(performance.now() - t0);
    const s0 = performance.now();
    await d.stop();
    if (i === 0) console.log(`stop (whole process tree): ${fmt(performance.now() - s0)}`);
  }
  console.log(`ready, install cached, fresh data directory: median ${fmt(median(times))} over ${times.length} starts (${times.map(fmt).join(", ")})`);
  await rm(reportDir, { recursive: true, force: true });
}

async function benchSuite(): Promise<void> {
  if (values.areas === "all") {
    await benchRun("all conformance suites", []);
    return;
  }
  if (values.areas) {
    await benchRun(`areas ${values.areas}`, ["--area", ...values.areas.split(/[\s,]+/).filter(Boolean)]);
    return;
  }
  await benchRun("client-server suites only (the first slice)", ["--area", "client-server"]);
  await benchRun("all conformance suites", []);
}

/** Where the tests' time went, per area and per API, from report.stats.time. */
function printTimeSplit(report: RunReport): void {
  const time = report.stats.time;
  if (!time) {
    console.log("time split: not in this report (written by harness versions that record time spans)");
    return;
  }
  const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(0)}%` : "-");
  const row = (name: string, t: TimeTotals) =>
    `${name.padEnd(32)} ${String(t.tests).padStart(5)} ${fmt(t.testMs).padStart(10)} ${fmt(t.serverMs).padStart(10)} ${pct(t.serverMs, t.testMs).padStart(4)} ${fmt(t.waitMs).padStart(10)} ${pct(t.waitMs, t.testMs).padStart(4)} ${fmt(t.harnessMs).padStart(10)} ${pct(t.harnessMs, t.testMs).padStart(4)}`;
  console.log("time split (sums over tests; see the header of bench/run.ts):");
  console.log(`${"area".padEnd(32)} ${"tests".padStart(5)} ${"test time".padStart(10)} ${"server".padStart(15)} ${"waits".padStart(15)} ${"harness".padStart(15)}`);
  const apis = new Map<string, TimeTotals>();
  for (const [area, t] of Object.entries(time.areas)) {
    console.log(row(area, t));
    const api = area.split("/")[0]!;
    const sum = apis.get(api) ?? { tests: 0, testMs: 0, serverMs: 0, waitMs: 0, harnessMs: 0 };
    apis.set(api, { tests: sum.tests + t.tests, testMs: sum.testMs + t.testMs, serverMs: sum.serverMs + t.serverMs, waitMs: sum.waitMs + t.waitMs, harnessMs: sum.harnessMs + t.harnessMs });
  }
  for (const [api, t] of apis) console.log(row(`${api} (all)`, t));
  console.log(row("total", time.total));
}

async function benchRun(title: string, extra: string[]): Promise<void> {
  console.log(`## suite: ${title} against Synapse`);
  const reportDir = await mkdtemp(join(tmpdir(), "mc-bench-report-"));
  const t0 = performance.now();
  const code = await new Promise<number>((res) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), "run", "--report-dir", reportDir, ...extra], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
    child.on("close", (c) => res(c ?? -1));
  });
  const wall = performance.now() - t0;
  const report = JSON.parse(await readFile(join(reportDir, "report.json"), "utf8")) as RunReport;
  const s = report.summary;
  const st = report.stats;
  console.log(`exit code ${code}: ${s.passed} passed, ${s.failed} failed, ${s.expectedFailures} expected failures, ${s.skipped} skipped`);
  console.log(`wall time, command start to exit: ${fmt(wall)}`);
  console.log(`test run (after the target is ready): ${fmt(report.durationMs)}, ${(s.total / (report.durationMs / 1000)).toFixed(1)} tests/s`);
  console.log(`requests: ${st.requests}; latency p50 ${st.latencyMs.p50.toFixed(1)} ms, p95 ${st.latencyMs.p95.toFixed(1)} ms, max ${st.latencyMs.max.toFixed(0)} ms`);
  console.log(`harness overhead per exchange (recording + schema check): p50 ${st.overheadMs.p50.toFixed(3)} ms, p95 ${st.overheadMs.p95.toFixed(3)} ms`);
  console.log(`overhead as a fraction of the request's time: p50 ${(st.overheadFraction.p50 * 100).toFixed(2)}%, p95 ${(st.overheadFraction.p95 * 100).toFixed(2)}%`);
  for (const t of report.tests) if (t.status === "failed" || t.status === "setup-failed") console.log(`unexpected ${t.status}: ${t.id}: ${t.failure?.signature ?? "?"}`);
  printTimeSplit(report);
  if (values.keep) {
    await mkdir(values.keep, { recursive: true });
    await copyFile(join(reportDir, "report.json"), join(values.keep, `report-${title.replace(/[^a-z0-9]+/gi, "-")}.json`));
  }
  await rm(reportDir, { recursive: true, force: true });
}

async function benchOthers(): Promise<void> {
  const dir = join(ROOT, "bench");
  const others = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "run.ts").sort() : [];
  for (const f of others) {
    console.log(`## ${f.replace(/\.ts$/, "")}`);
    await new Promise<void>((res) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(dir, f)], { cwd: ROOT, stdio: "inherit" });
      child.on("close", () => res());
    });
  }
}

if (values.report) {
  const report = JSON.parse(await readFile(values.report, "utf8")) as RunReport;
  console.log(`## time split of ${values.report}: ${report.summary.total} tests in ${fmt(report.durationMs)}`);
  printTimeSplit(report);
  process.exit(0);
}
if (want("target")) await benchTarget();
if (want("suite")) await benchSuite();
if (want("others")) await benchOthers();
