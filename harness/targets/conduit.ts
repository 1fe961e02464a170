// The Conduit target: a `conduit` binary the user built (Conduit depends on ruma by git, so no
// package registry has it; `--conduit-bin PATH` or MATRIX_CONFORMANCE_CONDUIT_BIN names it). For
// each run the driver writes Conduit's TOML config (loopback only, SQLite in a fresh data
// directory, open registration with the m.login.dummy stage, the run's server name), starts it
// under the supervisor with its log in the report directory, waits until
// /_matrix/client/versions answers, and registers a throwaway first user: Conduit makes the
// first user of a new database a server admin (joined to #admins), and no test user should be one.
//
// Client-server only for now: Conduit serves plain HTTP and this driver puts no TLS terminator in
// front of it, so the deployment has no `federation` and the federation suites skip, saying why.
//
// Validated against Conduit 0.10.12 (Apache-2.0, run as a separate, unmodified program; nothing of
// it is kept in this repository).
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readSetting } from "../settings.ts";
import { freePort, runCommand, startSupervised, stopOnce, tailLog, waitForReady, type ManagedProcess } from "./process.ts";
import { SetupError, type Deployment, type TargetConfig } from "./types.ts";

/** The Conduit release this suite has been run against. */
export const CONDUIT_VERSION = "0.10.12";
/** How long Conduit may take to answer /_matrix/client/versions (it answers in about a second). */
const READY_TIMEOUT_MS = 60_000;

const HOW_TO_GET =
  "Conduit is not on any package registry: build it (cargo build --release in a checkout of its release tag) " +
  "and pass the binary with --conduit-bin PATH or MATRIX_CONFORMANCE_CONDUIT_BIN";

/** The binary to run: the config's, else MATRIX_CONFORMANCE_CONDUIT_BIN; checked to exist and be executable. */
export async function conduitBinary(config: Pick<TargetConfig, "conduitBin">, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const given = config.conduitBin ?? readSetting("conduitBin", env);
  if (!given) throw new SetupError(`the conduit target needs the path of a conduit binary. ${HOW_TO_GET}.`);
  const bin = resolve(given);
  const st = await stat(bin).catch((err: NodeJS.ErrnoException) => {
    throw new SetupError(`the Conduit binary ${bin} does not exist (${err.code ?? err.message}). ${HOW_TO_GET}.`);
  });
  if (!st.isFile()) throw new SetupError(`the Conduit binary ${bin} is not a file. ${HOW_TO_GET}.`);
  await access(bin, constants.X_OK).catch(() => {
    throw new SetupError(`the Conduit binary ${bin} is not executable; make it so with: chmod +x ${bin}`);
  });
  return bin;
}

/** "Conduit 0.10.12" from `conduit --version` ("conduit 0.10.12"); a SetupError when it cannot be run or is not Conduit. */
export async function conduitVersion(bin: string): Promise<string> {
  let out;
  try {
    out = await runCommand(bin, ["--version"], { env: conduitEnv({}), timeoutMs: 15_000 });
  } catch (err) {
    throw new SetupError(`the Conduit binary ${bin} cannot be run: ${(err as Error).message} (built for another machine?)`);
  }
  const text = out.output.trim();
  const m = /^conduit\s+(\S+)/im.exec(text);
  if (out.code !== 0 || !m) {
    throw new SetupError(`${bin} --version did not name a Conduit release (exit ${out.code}): ${text.split("\n").slice(-5).join("\n") || "(no output)"}`);
  }
  return `Conduit ${m[1]}`;
}

/** Conduit's TOML config for one run: everything under [global], as Conduit reads it. */
export function conduitConfig(opts: { serverName: string; port: number; dataDir: string }): string {
  const str = (s: string) => JSON.stringify(s); // a TOML basic string: JSON's escapes are valid TOML
  return [
    "# Written by matrix-conformance for one run.",
    "[global]",
    `server_name = ${str(opts.serverName)}`,
    'database_backend = "sqlite"',
    `database_path = ${str(opts.dataDir)}`,
    'address = "127.0.0.1"',
    `port = ${opts.port}`,
    // Open registration: /register offers the m.login.dummy stage (no registration token set).
    "allow_registration = true",
    // No TLS terminator in front of it yet, so it neither serves nor sends federation.
    "allow_federation = false",
    "trusted_servers = []",
    // No calls home during a run, and display names as registered (no "⚡️" suffix added).
    "allow_check_for_updates = false",
    "enable_lightning_bolt = false",
    "",
  ].join("\n");
}

/**
 * The environment Conduit runs with: the harness's own, without CONDUIT_* variables (Conduit reads
 * any CONDUIT_<KEY> as a config override, which would make the run depend on the caller's shell),
 * plus the config path, and no ANSI colours in the log.
 */
function conduitEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CONDUIT_")) env[k] = v;
  return { ...env, NO_COLOR: "1", ...extra };
}

/**
 * Registers a throwaway user through the spec's user-interactive flow (a `session` round trip
 * completing m.login.dummy), so that Conduit's first-user admin grant goes to it and to no test
 * user. Plain fetch: the target layer does not use the scripted client.
 */
async function registerThrowawayFirstUser(baseUrl: string, logFile: string): Promise<string> {
  const url = `${baseUrl}/_matrix/client/v3/register`;
  const body = { username: `conformance-first-${randomBytes(4).toString("hex")}`, password: randomBytes(16).toString("hex") };
  const post = async (b: object) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b), signal: AbortSignal.timeout(20_000) });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const fail = async (what: string) =>
    new SetupError(`Conduit did not register the throwaway first user (${what}), so the first test user would become a server admin.\nLast 50 lines of ${logFile}:\n${await tailLog(logFile)}`);
  try {
    let res = await post(body);
    if (res.status === 401 && typeof res.body.session === "string") res = await post({ ...body, auth: { type: "m.login.dummy", session: res.body.session } });
    if (res.status !== 200 || typeof res.body.user_id !== "string") throw await fail(`POST /register answered ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.user_id;
  } catch (err) {
    if (err instanceof SetupError) throw err;
    throw await fail((err as Error).message);
  }
}

export async function startConduit(config: TargetConfig, opts: { readyTimeoutMs?: number } = {}): Promise<Deployment> {
  const bin = await conduitBinary(config);
  const version = await conduitVersion(bin);
  await mkdir(config.reportDir, { recursive: true });
  const logFile = join(config.reportDir, "conduit.log");
  await writeFile(logFile, "");
  const dataDir = await mkdtemp(join(tmpdir(), "matrix-conformance-conduit-"));
  const cleanup = async () => {
    if (!config.keepData) await rm(dataDir, { recursive: true, force: true });
  };

  let proc: ManagedProcess | undefined;
  let port: number;
  let serverName: string;
  let firstUser: string;
  try {
    port = await freePort();
    serverName = `localhost:${port}`;
    const configFile = join(dataDir, "conduit.toml");
    await mkdir(join(dataDir, "db"));
    await writeFile(configFile, conduitConfig({ serverName, port, dataDir: join(dataDir, "db") }));
    config.onProgress?.(`starting ${version} as ${serverName} (log: ${logFile})`);
    proc = startSupervised(bin, [], { cwd: dataDir, env: conduitEnv({ CONDUIT_CONFIG: configFile }), logFile });
    await waitForReady(`http://127.0.0.1:${port}/_matrix/client/versions`, proc, { name: "Conduit", logFile, timeoutMs: opts.readyTimeoutMs ?? READY_TIMEOUT_MS });
    firstUser = await registerThrowawayFirstUser(`http://127.0.0.1:${port}`, logFile);
  } catch (err) {
    await proc?.stop();
    await cleanup();
    throw err;
  }
  config.onProgress?.(`registered ${firstUser} first, so that Conduit's first-user admin grant goes to no test user`);

  const running = proc!;
  const stop = stopOnce(async () => {
    await running.stop();
    await cleanup();
  });
  return {
    info: {
      target: "conduit",
      serverName,
      baseUrl: `http://127.0.0.1:${port}`,
      version,
      logFile,
      // No shared secret: users come from open registration (m.login.dummy).
      registration: {},
    },
    stop,
  };
}
