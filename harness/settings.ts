// Every MATRIX_CONFORMANCE_* environment variable the harness, the suites and the CLI read, in
// one place: its name, default, unit and meaning, and the parser that validates it. A bad value
// is an error naming the variable, never a silent fallback to the default. README.md
// ("Settings") lists the same table; test/settings.test.ts keeps the two and the code in step
// (every MATRIX_CONFORMANCE_ name under harness/, suites/ and bin/ must be defined here and
// listed there).
//
//   settings().federationWaitMs      the values from process.env, parsed and validated once
//   readSettings(env)                the same from any environment (no caching), e.g. to check
//                                    a run's settings up front
//   readSetting("cacheDir", env)     one value, for functions that take an `env` argument
//
// Any module may import this one (ARCHITECTURE.md, "Folders"); it imports nothing of the project.

import { homedir } from "node:os";
import { join } from "node:path";

/** A setting with a value the parser rejects. The message names the variable and what it takes. */
export class SettingError extends Error {
  constructor(readonly variable: string, message: string) {
    super(message);
    this.name = "SettingError";
  }
}

export interface SettingDefinition<T> {
  /** The environment variable. */
  name: string;
  /** Older names still read (with a warning on stderr) when `name` is not set. */
  deprecatedAliases?: readonly string[];
  /** The default as a reader sees it (README's "default" column). */
  default: string;
  /** The unit or form of the value (README's "unit" column). */
  unit: string;
  /** What it changes (README's "meaning" column). */
  meaning: string;
  /** "user": a knob for people running the suite; "internal": set by the harness for its own processes or for container images. */
  audience: "user" | "internal";
  /** `raw` is undefined when the variable is unset or empty. */
  parse(raw: string | undefined, name: string, env: NodeJS.ProcessEnv): T;
}

const def = <T>(d: SettingDefinition<T>): SettingDefinition<T> => d;

function wholeNumber(raw: string, name: string, min: number, max: number, what: string): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new SettingError(name, `${name} takes ${what}, not '${raw}'`);
  return n;
}

const milliseconds = (fallback: number) => (raw: string | undefined, name: string) =>
  raw === undefined ? fallback : wholeNumber(raw, name, 1, Number.MAX_SAFE_INTEGER, "milliseconds as a positive whole number");
const count = (fallback: number) => (raw: string | undefined, name: string) => (raw === undefined ? fallback : wholeNumber(raw, name, 0, Number.MAX_SAFE_INTEGER, "a whole number (0 or more)"));
const text = (raw: string | undefined) => raw;
const oneOf =
  <V extends string>(values: readonly V[]) =>
  (raw: string | undefined, name: string): V | undefined => {
    if (raw === undefined) return undefined;
    const v = raw.trim().toLowerCase();
    if (!(values as readonly string[]).includes(v)) throw new SettingError(name, `${name} takes ${values.map((x) => `'${x}'`).join(" or ")}, not '${raw}'`);
    return v as V;
  };
const flag = (raw: string | undefined, name: string): boolean => {
  if (raw === undefined || raw === "0") return false;
  if (raw === "1") return true;
  throw new SettingError(name, `${name} takes 1 (on) or 0 (off), not '${raw}'`);
};

/** The definitions, by the key the code reads them under. */
export const SETTINGS = {
  // ---- the target (for `npx vitest --project suites`, where no CLI options are given) ----
  target: def({
    name: "MATRIX_CONFORMANCE_TARGET",
    default: "synapse",
    unit: "synapse, dendrite, conduit, image:NAME or external",
    meaning: "the server under test when the suites are started by plain vitest (the CLI's --target)",
    audience: "user",
    parse: (raw) => raw ?? "synapse",
  }),
  reportDir: def({
    name: "MATRIX_CONFORMANCE_REPORT_DIR",
    default: "reports/latest",
    unit: "directory",
    meaning: "where a plain vitest run writes the server's log (the CLI's --report-dir)",
    audience: "user",
    parse: (raw) => raw ?? "reports/latest",
  }),
  cacheDir: def({
    name: "MATRIX_CONFORMANCE_CACHE",
    default: "${XDG_CACHE_HOME:-~/.cache}/matrix-conformance",
    unit: "directory",
    meaning: "the provisioning cache (installed servers, the parsed-spec cache); the CLI's --cache-dir wins over it",
    audience: "user",
    parse: (raw, _name, env) => raw ?? join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "matrix-conformance"),
  }),
  serverUrl: def({
    name: "MATRIX_CONFORMANCE_SERVER_URL",
    default: "(none)",
    unit: "URL",
    meaning: "the client-server base URL of an external target (--server-url)",
    audience: "user",
    parse: text,
  }),
  serverName: def({
    name: "MATRIX_CONFORMANCE_SERVER_NAME",
    default: "(none)",
    unit: "server name",
    meaning: "the server name of an external target (--server-name)",
    audience: "user",
    parse: text,
  }),
  sharedSecret: def({
    name: "MATRIX_CONFORMANCE_SHARED_SECRET",
    default: "(none)",
    unit: "string",
    meaning: "the registration shared secret of an external target (--shared-secret)",
    audience: "user",
    parse: text,
  }),
  synapseVersion: def({
    name: "MATRIX_CONFORMANCE_SYNAPSE_VERSION",
    default: "the pinned release",
    unit: "PyPI version",
    meaning: "the matrix-synapse release to install for a plain vitest run",
    audience: "user",
    parse: text,
  }),
  dendriteVersion: def({
    name: "MATRIX_CONFORMANCE_DENDRITE_VERSION",
    default: "the pinned release",
    unit: "vX.Y.Z",
    meaning: "the Dendrite release to build (checked when the target starts)",
    audience: "user",
    parse: text,
  }),
  dendriteLogLevel: def({
    name: "MATRIX_CONFORMANCE_DENDRITE_LOG_LEVEL",
    default: "Dendrite's own",
    unit: "a logrus level: trace, debug, info, warn, error, ...",
    meaning: "Dendrite's log level in dendrite.log",
    audience: "user",
    parse: oneOf(["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"] as const),
  }),
  conduitBin: def({
    name: "MATRIX_CONFORMANCE_CONDUIT_BIN",
    default: "(none)",
    unit: "path",
    meaning: "the conduit binary of the conduit target (--conduit-bin); built by the user, e.g. ci/conduit/unpack.sh's path",
    audience: "user",
    parse: text,
  }),
  containerNetwork: def({
    name: "MATRIX_CONFORMANCE_CONTAINER_NETWORK",
    default: "bridge",
    unit: "host or bridge",
    meaning: "the network of an image:NAME target's container (--container-network)",
    audience: "user",
    parse: oneOf(["host", "bridge"] as const),
  }),
  imageReadyTimeoutMs: def({
    name: "MATRIX_CONFORMANCE_IMAGE_READY_TIMEOUT_MS",
    default: "120000",
    unit: "ms",
    meaning: "how long an image:NAME target's container may take to answer /_matrix/client/versions",
    audience: "user",
    parse: milliseconds(120_000),
  }),
  python: def({
    name: "MATRIX_CONFORMANCE_PYTHON",
    default: "python3 on PATH",
    unit: "command or path",
    meaning: "the Python interpreter Synapse's venv is made with (>= 3.10)",
    audience: "user",
    parse: text,
  }),
  go: def({
    name: "MATRIX_CONFORMANCE_GO",
    default: "go on PATH",
    unit: "command or path",
    meaning: "the Go toolchain Dendrite is built with",
    audience: "user",
    parse: text,
  }),

  // ---- waits and bounds ----
  requestTimeoutMs: def({
    name: "MATRIX_CONFORMANCE_REQUEST_TIMEOUT_MS",
    default: "20000",
    unit: "ms",
    meaning: "bound on each request of the scripted client and of the fake peers (the CLI's --request-timeout sets it); a long-polling /sync gets its own timeout on top",
    audience: "user",
    parse: milliseconds(20_000),
  }),
  federationWaitMs: def({
    name: "MATRIX_CONFORMANCE_FEDERATION_WAIT_MS",
    default: "25000",
    unit: "ms",
    meaning: "how long a peer's waiter gives the target to send something over federation (servers batch and delay transactions, more so on a loaded machine)",
    audience: "user",
    parse: milliseconds(25_000),
  }),
  syncWaitMs: def({
    name: "MATRIX_CONFORMANCE_SYNC_WAIT_MS",
    default: "10000",
    unit: "ms",
    meaning: "how long the client's syncUntil (syncPast, syncUntilEvent, ...) waits for what it looks for, unless the test passes its own bound",
    audience: "user",
    parse: milliseconds(10_000),
  }),
  syncPollMs: def({
    name: "MATRIX_CONFORMANCE_SYNC_POLL_MS",
    default: "5000",
    unit: "ms",
    meaning: "the longest `timeout` of each long-polling /sync inside syncUntil",
    audience: "user",
    parse: milliseconds(5_000),
  }),

  // ---- what is checked ----
  errata: def({
    name: "MATRIX_CONFORMANCE_ERRATA",
    default: "on",
    unit: "on or off",
    meaning: "whether schemas/errata.json corrects the spec's schemas (the CLI's --no-errata sets off)",
    audience: "user",
    parse: (raw, name) => (oneOf(["on", "off"] as const)(raw, name) ?? "on") === "on",
  }),
  stateresDiffSeed: def({
    name: "MATRIX_CONFORMANCE_STATERES_DIFF_SEED",
    deprecatedAliases: ["STATERES_DIFF_SEED"],
    default: "1",
    unit: "0 to 4294967295",
    meaning: "the seed of the state-resolution differential suite's random forks (its test titles show it)",
    audience: "user",
    parse: (raw, name) => (raw === undefined ? 1 : wholeNumber(raw, name, 0, 2 ** 32 - 1, "a whole number from 0 to 4294967295")),
  }),
  stateresDiffRuns: def({
    name: "MATRIX_CONFORMANCE_STATERES_DIFF_RUNS",
    deprecatedAliases: ["STATERES_DIFF_RUNS"],
    default: "4",
    unit: "count",
    meaning: "random fork cases of the state-resolution differential suite per room version",
    audience: "user",
    parse: count(4),
  }),

  // ---- set by the harness itself ----
  selftest: def({
    name: "MATRIX_CONFORMANCE_SELFTEST",
    default: "0",
    unit: "1 or 0",
    meaning: "the CLI runs the selftest suites of test/stub/suites instead of suites/ (the harness's stub-server tests set it; not a user option)",
    audience: "internal",
    parse: flag,
  }),
  bin: def({
    name: "MATRIX_CONFORMANCE_BIN",
    default: "0",
    unit: "1 or 0",
    meaning: "set by bin/matrix-conformance.mjs: harness/cli.ts runs as the command",
    audience: "internal",
    parse: flag,
  }),
  deployment: def({
    name: "MATRIX_CONFORMANCE_DEPLOYMENT",
    default: "(none)",
    unit: "JSON",
    meaning: "the started target, handed by the CLI to globalSetup (which then starts none)",
    audience: "internal",
    parse: text,
  }),
  runCa: def({
    name: "MATRIX_CONFORMANCE_RUN_CA",
    default: "(none)",
    unit: "JSON",
    meaning: "the run's CA, handed by the CLI to globalSetup with the deployment",
    audience: "internal",
    parse: text,
  }),
  clientPort: def({
    name: "MATRIX_CONFORMANCE_CLIENT_PORT",
    default: "8008",
    unit: "port",
    meaning: "given to a container image that reads its ports from the environment: its client-server port",
    audience: "internal",
    parse: text,
  }),
  federationPort: def({
    name: "MATRIX_CONFORMANCE_FEDERATION_PORT",
    default: "8448",
    unit: "port",
    meaning: "given to such an image: its federation port",
    audience: "internal",
    parse: text,
  }),
  bindAddress: def({
    name: "MATRIX_CONFORMANCE_BIND_ADDRESS",
    default: "0.0.0.0",
    unit: "address",
    meaning: "given to such an image: the address it listens on",
    audience: "internal",
    parse: text,
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
export type Settings = { readonly [K in SettingKey]: ReturnType<(typeof SETTINGS)[K]["parse"]> };

const warned = new Set<string>();

/** The raw value of a setting (its name, else a deprecated alias with a warning); undefined when unset or empty. */
function rawValue(d: SettingDefinition<unknown>, env: NodeJS.ProcessEnv): { raw: string | undefined; from: string } {
  const own = env[d.name];
  if (own !== undefined && own !== "") return { raw: own, from: d.name };
  for (const alias of d.deprecatedAliases ?? []) {
    const v = env[alias];
    if (v === undefined || v === "") continue;
    if (!warned.has(alias)) {
      warned.add(alias);
      process.emitWarning(`${alias} is deprecated: set ${d.name} instead`, { type: "DeprecationWarning", code: "MC_DEPRECATED_SETTING" });
    }
    return { raw: v, from: alias };
  }
  return { raw: undefined, from: d.name };
}

/** One setting from `env`, parsed and validated (throws SettingError naming the variable). */
export function readSetting<K extends SettingKey>(key: K, env: NodeJS.ProcessEnv = process.env): Settings[K] {
  const d = SETTINGS[key] as SettingDefinition<Settings[K]>;
  const { raw, from } = rawValue(d, env);
  return d.parse(raw, from, env);
}

/** Every setting from `env`; throws a SettingError listing every bad variable. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Record<string, unknown> = {};
  const problems: SettingError[] = [];
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    try {
      out[key] = readSetting(key, env);
    } catch (e) {
      if (e instanceof SettingError) problems.push(e);
      else throw e;
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new SettingError(problems.map((p) => p.variable).join(", "), problems.map((p) => p.message).join("; "));
  return Object.freeze(out) as Settings;
}

/** The provisioning cache: `$MATRIX_CONFORMANCE_CACHE`, or `${XDG_CACHE_HOME:-~/.cache}/matrix-conformance`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return readSetting("cacheDir", env);
}

let cached: Settings | undefined;

/** The settings of this process, read from process.env on first use and kept. */
export function settings(): Settings {
  cached ??= readSettings(process.env);
  return cached;
}
