// The matrix-conformance command.
//
//   matrix-conformance run [--target synapse|external] [--server-url URL --server-name NAME
//     --shared-secret S] [--spec-dir DIR] [--report-dir DIR] [--grep TEXT] [--area NAME]
//
// Exit codes: 0 when no test failed unexpectedly, 1 when some did, 2 when the run could not
// happen (bad arguments, no spec, a target that would not start), with a message and no stack.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import type { Baseline } from "./report/baseline.ts";
import { runFailed, type ErratumHit, type RunReport } from "./report/model.ts";
import { SPEC_RELEASE_TAG, SpecSourceError, detectSpecVersion, fetchSpec, resolveSpecDir } from "./schemas/index.ts";
import { SetupError, TARGETS, defaultCacheDir, isKnownTarget, liveProcesses, startTarget, type Deployment } from "./targets/index.ts";
import { SettingError, readSetting, readSettings } from "./settings.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_SETUP = 2;

/** A message for the user and an exit code; never shown with a stack. */
class Fatal extends Error {
  constructor(message: string, readonly code = EXIT_SETUP) {
    super(message);
  }
}

interface RunOptions {
  target: string;
  serverUrl?: string;
  serverName?: string;
  sharedSecret?: string;
  specDir?: string;
  reportDir: string;
  grep?: string;
  area?: string[];
  cacheDir?: string;
  synapseVersion?: string;
  dendriteVersion?: string;
  conduitBin?: string;
  workers?: string;
  keepData?: boolean;
  requestTimeout?: string;
  containerNetwork?: "bridge" | "host";
  baseline?: string;
  strict?: boolean;
  strictShould?: boolean;
  retries?: string;
  allowFlaky?: boolean;
  /** commander's --no-errata: false when given. */
  errata?: boolean;
  updateBaseline?: boolean;
}

/**
 * Test workers when --workers is not given. A conformance test spends its time waiting on the
 * target, not on this process's CPU, so twice the cores keeps the target busy: on a two-core
 * machine, in CI, the whole suite takes 173-201 s against Synapse with 4 workers (268-299 s with
 * 2) and about 120 s against Dendrite (266-295 s); 6 workers were slower than 4.
 */
function defaultWorkers(): number {
  return Math.min(8, 2 * availableParallelism());
}

/**
 * The harness's own stub-server tests set MATRIX_CONFORMANCE_SELFTEST=1 to run the "selftest"
 * project (test/stub/suites: suites written to prove how verdicts are reached) instead of the
 * conformance suites. It is not a user option.
 */
const SELFTEST = readSetting("selftest");
const SUITES_DIR = SELFTEST ? "test/stub/suites" : "suites";
const SUITES_PROJECT = SELFTEST ? "selftest" : "suites";

/** Suite files for --area: "rooms", "client-server" or "client-server/rooms". */
function areaFiles(areas: string[] | undefined): string[] {
  if (!areas?.length) return [];
  const all = listSuites(join(ROOT, SUITES_DIR)).map((f) => relative(join(ROOT, SUITES_DIR), f).replace(/\.test\.ts$/, ""));
  const picked = new Set<string>();
  for (const area of areas) {
    const hits = all.filter((a) => a === area || a.startsWith(`${area}/`) || a.endsWith(`/${area}`));
    if (!hits.length) throw new Fatal(`no area named '${area}'. Areas: ${all.join(", ")}`);
    hits.forEach((h) => picked.add(`${SUITES_DIR}/${h}.test.ts`));
  }
  return [...picked];
}

function listSuites(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listSuites(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

/** Summary and evidence of each spec erratum, for the report's list of errata the run needed. */
async function erratumDescriptions(): Promise<(id: string) => Pick<ErratumHit, "summary" | "evidence"> | undefined> {
  const { loadErrata, ProjectDataError } = await import("./schemas/index.ts");
  try {
    const byId = new Map(loadErrata().map((e) => [e.id, e]));
    return (id) => byId.get(id);
  } catch (err) {
    if (err instanceof ProjectDataError) throw new Fatal(err.message);
    throw err;
  }
}

async function runSuites(opts: RunOptions): Promise<number> {
  const reportDir = resolve(opts.reportDir);
  let specDir: string;
  try {
    specDir = resolveSpecDir(opts.specDir);
  } catch (err) {
    if (err instanceof SpecSourceError) throw new Fatal(err.message);
    throw err;
  }
  if (!isKnownTarget(opts.target)) throw new Fatal(`unknown target '${opts.target}'; choose one of: ${TARGETS.join(", ")}, or image:NAME`);
  const specVersion = detectSpecVersion(specDir);
  // Loaded here rather than at the top, so that --help and other commands start quickly.
  const { BaselineError, baselineFromRun, defaultBaselinePath, loadBaseline, writeBaseline } = await import("./report/baseline.ts");
  const { ConformanceReporter } = await import("./report/reporter.ts");
  const { ProgressReporter } = await import("./report/progress.ts");
  const { createRunCa } = await import("./federation/tls.ts");
  const baselineFile = opts.baseline ? resolve(opts.baseline) : defaultBaselinePath(opts.target);
  if (opts.baseline && !existsSync(baselineFile) && !opts.updateBaseline) throw new Fatal(`baseline file ${baselineFile} does not exist`);
  let baseline: Baseline | undefined;
  try {
    baseline = loadBaseline(baselineFile, { allowLegacy: opts.updateBaseline });
  } catch (err) {
    if (err instanceof BaselineError) throw new Fatal(err.message);
    throw err;
  }
  const files = areaFiles(opts.area);
  const workers = opts.workers === undefined ? defaultWorkers() : Number(opts.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers > 0)) throw new Fatal(`--workers takes a positive whole number, not '${opts.workers}'`);
  if (opts.requestTimeout !== undefined) {
    const ms = Number(opts.requestTimeout);
    if (!(Number.isInteger(ms) && ms > 0)) throw new Fatal(`--request-timeout takes milliseconds as a positive whole number, not '${opts.requestTimeout}'`);
    process.env.MATRIX_CONFORMANCE_REQUEST_TIMEOUT_MS = String(ms);
  }

  const retries = opts.retries === undefined ? 0 : Number(opts.retries);
  if (!(Number.isInteger(retries) && retries >= 0)) throw new Fatal(`--retries takes a whole number of extra attempts, not '${opts.retries}'`);

  // --no-errata: the workers (schema checks, fake peers) read this and use the spec's raw schemas.
  const errata = opts.errata !== false;
  if (errata) delete process.env.MATRIX_CONFORMANCE_ERRATA;
  else process.env.MATRIX_CONFORMANCE_ERRATA = "off";
  // Every MATRIX_CONFORMANCE_* setting is checked before a server starts, so a bad value is
  // one clear error (exit 2) rather than a failure in each worker.
  try {
    readSettings();
  } catch (err) {
    if (err instanceof SettingError) throw new Fatal(err.message);
    throw err;
  }

  await mkdir(reportDir, { recursive: true });
  for (const f of ["report.json", "junit.xml"]) await rm(join(reportDir, f), { force: true });

  let deployment: Deployment | undefined;
  const stopAll = async () => {
    await deployment?.stop();
    await Promise.all(liveProcesses().map((p) => p.stop()));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the target and exiting\n`);
    void stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const ca = await createRunCa();
    process.env.MATRIX_CONFORMANCE_RUN_CA = JSON.stringify(ca);
    try {
      deployment = await startTarget({
        target: opts.target,
        ca,
        reportDir,
        cacheDir: opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir(),
        serverUrl: opts.serverUrl,
        serverName: opts.serverName,
        sharedSecret: opts.sharedSecret,
        synapseVersion: opts.synapseVersion,
        dendriteVersion: opts.dendriteVersion,
        conduitBin: opts.conduitBin,
        keepData: opts.keepData,
        containerNetwork: opts.containerNetwork,
        onProgress: (line) => process.stderr.write(`matrix-conformance: ${line}\n`),
      });
    } catch (err) {
      if (err instanceof SetupError) throw new Fatal(`the ${opts.target} target could not start:\n${err.message}`);
      throw err;
    }
    process.env.MATRIX_CONFORMANCE_DEPLOYMENT = JSON.stringify(deployment.info);
    process.env.MATRIX_SPEC_DIR = specDir;

    let report: RunReport | undefined;
    const reporter = new ConformanceReporter({
      reportDir,
      rootDir: ROOT,
      toolVersion: VERSION,
      specVersion,
      specDir,
      deployment: deployment.info,
      baseline,
      filtered: opts.grep !== undefined,
      strictShould: opts.strictShould ?? false,
      retries,
      allowFlaky: opts.allowFlaky ?? false,
      errata,
      erratumInfo: await erratumDescriptions(),
      onReport: (r) => (report = r),
    });
    const { startVitest } = await import("vitest/node");
    const vitest = await startVitest(
      "test",
      files,
      {
        root: ROOT,
        config: join(ROOT, "vitest.config.ts"),
        project: [SUITES_PROJECT],
        run: true,
        watch: false,
        testNamePattern: opts.grep,
        reporters: [new ProgressReporter({ rootDir: ROOT, specVersion, baseline, strictShould: opts.strictShould ?? false, filtered: opts.grep !== undefined }), reporter],
        maxWorkers: workers,
        retry: retries,
      },
      { server: { watch: null } },
    );
    await vitest.close();
    if (!report) throw new Fatal("the test run did not complete (see the errors above)");
    const r = report as RunReport;
    if (r.summary.total === 0) throw new Fatal(`no test matched${opts.grep ? ` --grep '${opts.grep}'` : ""}${opts.area ? ` in --area ${opts.area.join(", ")}` : ""}`);
    if (opts.updateBaseline) {
      const next = baselineFromRun(opts.target.replace(/^image:/, ""), deployment.info.version, r.tests, baseline);
      await writeBaseline(baselineFile, next);
      process.stderr.write(`matrix-conformance: wrote ${next.entries.length} entries to ${baselineFile}; review every reason and spec link before committing it\n`);
    }
    if (runFailed(r.summary, r.runErrors, r.options)) return EXIT_FAILED;
    if (opts.strict && r.summary.fixed > 0) {
      process.stderr.write(`matrix-conformance: --strict: ${r.summary.fixed} baseline entr${r.summary.fixed === 1 ? "y passes" : "ies pass"} now; remove ${r.summary.fixed === 1 ? "it" : "them"} from ${baselineFile}\n`);
      return EXIT_FAILED;
    }
    return EXIT_OK;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stopAll();
  }
}

export function buildProgram(): Command {
  const program = new Command("matrix-conformance")
    .description("Conformance tests for Matrix homeservers, checked against the Matrix spec.")
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  program
    .command("run")
    .description("start (or connect to) a target homeserver, run the conformance suites against it and write reports")
    .option("--target <name>", `the server to test: ${TARGETS.join(", ")}, or image:NAME (a Complement-contract image)`, "synapse")
    .addOption(new Option("--container-network <mode>", "image target: bridge (mapped ports) or host").choices(["bridge", "host"]).default("bridge"))
    .option("--server-url <url>", "external target: client-server API base URL, e.g. http://127.0.0.1:8008")
    .option("--server-name <name>", "external target: the server name, e.g. example.org")
    .option("--shared-secret <secret>", "external target: registration shared secret (otherwise open registration is used)")
    .option("--spec-dir <dir>", "a matrix-spec checkout (default: $MATRIX_SPEC_DIR)")
    .option("--report-dir <dir>", "where report.json, junit.xml and the server log go", "reports/latest")
    .option("--grep <text>", "run only tests whose title matches this regular expression")
    .option("--area <name...>", "run only these areas, e.g. registration or client-server")
    .option("--workers <n>", "parallel test workers (default: twice the CPU cores, at most 8)")
    .option("--request-timeout <ms>", "bound on each request to the target (default 20000)")
    .option("--cache-dir <dir>", "where installed servers are kept (default: $MATRIX_CONFORMANCE_CACHE or ~/.cache/matrix-conformance)")
    .option("--synapse-version <version>", "synapse target: the matrix-synapse release to install")
    .option("--dendrite-version <version>", "dendrite target: the github.com/matrix-org/dendrite release to build, e.g. v0.13.8")
    .option("--conduit-bin <path>", "conduit target: the conduit binary to run (you build it; e.g. the path ci/conduit/unpack.sh prints)")
    .option("--keep-data", "keep the server's data directory after the run")
    .option("--baseline <file>", "expected failures of the target (default: fixtures/baselines/<target>.json when it exists)")
    .option("--strict", "fail the run when a baseline entry's test passes, so the baseline only shrinks")
    .option("--strict-should", "fail the run on SHOULD- and MAY-level failures too (by default they are warnings)")
    .option("--retries <n>", "run a failed test up to N more times; one that then passes is reported flaky, never as a plain pass (default 0)")
    .option("--allow-flaky", "count a flaky test (passed on a retry) as a pass with a warning instead of failing the run")
    .option("--no-errata", "check against the spec's raw schemas, without the known spec defects of schemas/errata.json")
    .option("--update-baseline", "write the run's failures to the baseline file for review")
    .action(async (opts: RunOptions) => {
      process.exitCode = await runSuites(opts);
    });

  program
    .command("spec")
    .description("manage the Matrix spec the suite checks against")
    .command("fetch")
    .description("fetch a release of matrix-org/matrix-spec into the cache with git (needs internet access); later runs use it when no --spec-dir or MATRIX_SPEC_DIR is given")
    .option("--tag <tag>", "the spec release tag", SPEC_RELEASE_TAG)
    .option("--cache-dir <dir>", "the cache (default: $MATRIX_CONFORMANCE_CACHE or ~/.cache/matrix-conformance)")
    .action(async (opts: { tag: string; cacheDir?: string }) => {
      try {
        const r = await fetchSpec(opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir(), opts.tag);
        process.stdout.write(`${r.fetched ? "fetched" : "already fetched"}: the Matrix spec ${opts.tag} in ${r.dir}\n`);
      } catch (err) {
        if (err instanceof SpecSourceError) throw new Fatal(err.message);
        throw err;
      }
    });

  program
    .command("stateres")
    .description("resolve the state of one scenario file (JSON) with the reference model and print it as JSON")
    .argument("[file]", "the scenario; standard input when absent or '-'")
    .action(async (file: string | undefined) => {
      const { stateresCommand } = await import("./stateres/scenario.ts");
      process.exitCode = await stateresCommand(file, {
        readStdin: async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks).toString("utf8");
        },
        stdout: process.stdout,
        stderr: process.stderr,
      });
    });

  program
    .command("matrix")
    .description("put several report.json files side by side: matrix.md and matrix.html, by area and target")
    .argument("<reports...>", "report.json files, one per target run")
    .option("--out <dir>", "where matrix.md and matrix.html go", "reports/matrix")
    .action(async (files: string[], opts: { out: string }) => {
      const { MatrixInputError, writeMatrix } = await import("./report/matrix.ts");
      try {
        const written = await writeMatrix(files.map((f) => resolve(f)), resolve(opts.out));
        process.stdout.write(`wrote ${written.markdown} and ${written.html}\n`);
      } catch (err) {
        if (err instanceof MatrixInputError) throw new Fatal(err.message);
        throw err;
      }
    });

  return program;
}

/**
 * A closed terminal or pipe (`run ... | head`) must not end the run before the target is stopped
 * and the reports are written: output that cannot be delivered is dropped.
 */
function tolerateClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  tolerateClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : EXIT_SETUP;
    }
    if (err instanceof Fatal) {
      process.stderr.write(`matrix-conformance: ${err.message}\n`);
      return err.code;
    }
    process.stderr.write(`matrix-conformance: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT_SETUP;
  }
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly || readSetting("bin")) {
  main(process.argv).then((code) => process.exit(code));
}
