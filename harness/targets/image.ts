// The container target, `--target image:NAME`: runs an image that follows the Complement image
// contract with testcontainers, and hands back the same Deployment as the process drivers.
//
// The contract: SERVER_NAME in the environment; client API on 8008 (HTTP) and federation on 8448
// (HTTPS); the run's CA copied to /complement/ca/ca.crt and ca.key before start (the image signs
// its certificate with it and trusts it); registration shared secret `complement`; ready when
// GET /_matrix/client/versions answers 200.
//
// Networking:
// - "host" (--container-network host): the container shares the host's network, so the client
//   API, inbound federation from the suite's peers and outbound federation from the server to
//   peers on loopback all work, and the server name is `localhost:<federation port>`. An image
//   labelled `org.matrix-conformance.ports-from-env=1` (ci/docker/build-dendrite-image.sh makes
//   one) is given free ports and the loopback bind address through MATRIX_CONFORMANCE_CLIENT_PORT,
//   MATRIX_CONFORMANCE_FEDERATION_PORT and MATRIX_CONFORMANCE_BIND_ADDRESS; any other image binds
//   the fixed 8008 and 8448, which must then be free (checked first).
// - "bridge" (default): the engine's normal network with 8008 and 8448 published on free host
//   ports; the server name is `localhost:<published federation port>`. The client API and
//   inbound federation work; outbound federation from the container to peers on the host's
//   loopback does not (inside the container, localhost is the container). Engines started
//   without a bridge network (ci/docker/start-dockerd.sh) cannot do this mode at all.
//
// Cleanup without testcontainers' reaper (its image cannot be pulled everywhere, so it is off):
// every container carries the run's id and its owner (host, pid, process start time) as labels.
// A small watchdog process, detached from the terminal, holds a pipe from the harness; when the
// pipe closes — normal stop, Ctrl-C, an uncaught error or a SIGKILLed harness alike — it removes
// every container of the run through the engine's API (or `docker rm -f`). The harness's own
// stop() removes the container first and copies its log to <reportDir>/<image>.log; and each
// start sweeps away containers whose owning process is gone.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { createRunCa } from "../federation/tls.ts";
import { readSetting } from "../settings.ts";
import { assertPortFree, freePort, serverVersion, tailLog } from "./process.ts";
import { SetupError, type Deployment, type TargetConfig } from "./types.ts";

export const LABEL_RUN = "org.matrix-conformance.run";
export const LABEL_OWNER = "org.matrix-conformance.owner";
export const LABEL_PORTS_FROM_ENV = "org.matrix-conformance.ports-from-env";
/** The registration shared secret of the Complement contract. */
export const COMPLEMENT_SHARED_SECRET = "complement";
/** How long a container may take to become ready (MATRIX_CONFORMANCE_IMAGE_READY_TIMEOUT_MS), read when a target starts. */
const readyTimeoutMs = (): number => readSetting("imageReadyTimeoutMs");

type Testcontainers = typeof import("testcontainers");
type RuntimeClient = Awaited<ReturnType<Testcontainers["getContainerRuntimeClient"]>>;

/** The engine's address as the watchdog reaches it: DOCKER_HOST, or the default socket. */
function dockerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || "unix:///var/run/docker.sock";
}

/** Settings testcontainers needs here; set only where the user has not set them. */
export function prepareTestcontainersEnv(env: NodeJS.ProcessEnv = process.env): void {
  // The reaper (ryuk) is an image pulled from a registry; this driver cleans up itself.
  env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  // A local engine publishes ports on this host; without the override testcontainers may look
  // for a bridge gateway (or start a helper image) to find out.
  if (env.TESTCONTAINERS_HOST_OVERRIDE === undefined && dockerHost(env).startsWith("unix://")) env.TESTCONTAINERS_HOST_OVERRIDE = "127.0.0.1";
}

/** "<host>:<pid>:<start time>": a process identity that a reused pid does not match. */
export function processIdentity(pid = process.pid): string | undefined {
  const start = processStartTime(pid);
  return start === undefined ? undefined : `${hostname()}:${pid}:${start}`;
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    try {
      process.kill(pid, 0);
      return "?";
    } catch {
      return undefined;
    }
  }
}

/** Whether the process a container's owner label names is gone (false when it is another host's). */
export function ownerIsGone(owner: string): boolean {
  const m = /^(.*):(\d+):([^:]+)$/.exec(owner);
  if (!m || m[1] !== hostname()) return false;
  const start = processStartTime(Number(m[2]));
  return start === undefined || (start !== "?" && m[3] !== "?" && start !== m[3]);
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "SIGALRM", "SIGVTALRM", "SIGXCPU", "SIGXFSZ", "SIGUSR2", "SIGTRAP", "SIGSYS", "SIGQUIT", "SIGIOT", "SIGABRT", "SIGPOLL", "SIGPWR", "SIGSTKFLT", "SIGUNUSED"] as const;
let loaded: Promise<Testcontainers> | undefined;

/**
 * Imports testcontainers once. Importing it loads proper-lockfile, whose signal-exit (v3) adds a
 * listener for SIGINT, SIGTERM, SIGHUP, ... that re-raises the signal when it finds itself the only
 * listener left. A CLI that handles Ctrl-C with `process.once` and then stops its target would be
 * killed in the middle of that stop. This driver uses none of testcontainers' file locks (they
 * serve the reaper and the port forwarder, both unused), so the listeners added by the import are
 * removed again and signals keep Node's ordinary meaning for the harness.
 */
function loadTestcontainers(): Promise<Testcontainers> {
  loaded ??= (async () => {
    const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
    const tc = await import("testcontainers");
    for (const s of SIGNALS) {
      for (const l of process.listeners(s as NodeJS.Signals)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
    }
    return tc;
  })();
  return loaded;
}

async function runtimeClient(tc: Testcontainers): Promise<RuntimeClient> {
  try {
    return await tc.getContainerRuntimeClient();
  } catch (err) {
    throw new SetupError(
      `no container engine answers (${dockerHost()}): ${(err as Error).message}\n` +
        `The image target needs a running Docker engine. On this project's machines: ci/docker/start-dockerd.sh ` +
        `(installs docker.io if needed and starts dockerd without a bridge network). Elsewhere start Docker, or set DOCKER_HOST.`,
    );
  }
}

/** Removes containers of this machine whose harness process is gone; returns how many. */
export async function sweepOrphans(client: RuntimeClient, onProgress?: (line: string) => void): Promise<number> {
  const found = await client.container.dockerode.listContainers({ all: true, filters: { label: [LABEL_OWNER] } });
  let removed = 0;
  for (const c of found) {
    const owner = c.Labels?.[LABEL_OWNER];
    if (!owner || !ownerIsGone(owner)) continue;
    await client.container.dockerode
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .then(() => removed++)
      .catch(() => undefined);
  }
  if (removed) onProgress?.(`removed ${removed} container(s) left behind by earlier runs that did not finish`);
  return removed;
}

/** Removes every container of a run (by label). */
async function removeRun(client: RuntimeClient, runId: string): Promise<void> {
  const found = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${LABEL_RUN}=${runId}`] } }).catch(() => []);
  await Promise.all(found.map((c) => client.container.dockerode.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
}

// The watchdog, run as `node --input-type=module -e WATCHDOG`. Plain JavaScript with no imports
// from the project, so it runs whatever state the harness is in. It removes the run's containers
// when its stdin closes, when the harness's pid disappears, or on SIGTERM; it ignores SIGINT and
// SIGHUP (the harness handles those and then closes the pipe).
const WATCHDOG = String.raw`
import http from "node:http";
import { execFile } from "node:child_process";
const host = process.env.MC_DOCKER_HOST;
const label = process.env.MC_RUN_LABEL;
const parent = Number(process.env.MC_PARENT_PID);
function api(method, path) {
  return new Promise((resolve, reject) => {
    let target;
    if (host.startsWith("unix://")) target = { socketPath: host.slice(7) };
    else { const u = new URL(host.replace(/^tcp:/, "http:")); target = { host: u.hostname, port: u.port || 2375 }; }
    const req = http.request({ ...target, method, path, timeout: 15000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => (res.statusCode < 300 || res.statusCode === 404 ? resolve(body) : reject(new Error(res.statusCode + " " + body))));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}
async function removeAll() {
  try {
    const list = JSON.parse(await api("GET", "/containers/json?all=1&filters=" + encodeURIComponent(JSON.stringify({ label: [label] }))));
    for (const c of list) await api("DELETE", "/containers/" + c.Id + "?force=1&v=1");
  } catch {
    await new Promise((r) => execFile("sh", ["-c", "docker ps -aq --filter label=" + label + " | xargs -r docker rm -f -v"], () => r()));
  }
}
let going = false;
async function go() {
  if (going) return;
  going = true;
  // A create or start request may still be on its way to the engine when the harness dies:
  // sweep a few more times before leaving.
  for (const delay of [0, 1000, 2000, 4000]) {
    await new Promise((r) => setTimeout(r, delay));
    await removeAll().catch(() => {});
  }
  process.exit(0);
}
process.stdin.on("end", go);
process.stdin.on("error", go);
process.stdin.resume();
process.on("SIGTERM", go);
process.on("SIGINT", () => {});
process.on("SIGHUP", () => {});
setInterval(() => { try { process.kill(parent, 0); } catch { go(); } }, 1000);
`;

function startWatchdog(runId: string): ChildProcess {
  const child = spawn(process.execPath, ["--input-type=module", "-e", WATCHDOG], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
    env: { ...process.env, MC_DOCKER_HOST: dockerHost(), MC_RUN_LABEL: `${LABEL_RUN}=${runId}`, MC_PARENT_PID: String(process.pid) },
  });
  // Neither the child nor the pipe keeps the harness alive; the pipe closes when the harness ends.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  child.stdin?.on("error", () => undefined);
  return child;
}

async function endWatchdog(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}

/** "matrix-conformance/dendrite:v0.13.8" -> "matrix-conformance_dendrite_v0.13.8" */
export function imageLogName(image: string): string {
  return `${image.replace(/[^A-Za-z0-9._-]+/g, "_")}.log`;
}

async function probe(url: string): Promise<{ ok: boolean; problem: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return { ok: res.status === 200, problem: `status ${res.status}` };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}

export async function startImage(config: TargetConfig): Promise<Deployment> {
  const image = config.target.replace(/^image:/, "");
  if (!image) throw new SetupError("image target without an image name: use --target image:NAME, e.g. image:matrix-conformance/dendrite:v0.13.8");
  const network = config.containerNetwork ?? "bridge";
  prepareTestcontainersEnv();
  const tc = await loadTestcontainers();
  const client = await runtimeClient(tc);
  await sweepOrphans(client, config.onProgress);

  const dockerode = client.container.dockerode;
  let labels: Record<string, string> = {};
  try {
    const inspected = await dockerode.getImage(image).inspect();
    labels = inspected.Config?.Labels ?? {};
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw new SetupError(`cannot inspect the image ${image}: ${(err as Error).message}`);
    throw new SetupError(
      `the image ${image} is not in the local engine, and the harness pulls nothing.\n` +
        (/dendrite/i.test(image) ? `Build a Dendrite image with: ci/docker/build-dendrite-image.sh\n` : "") +
        `Otherwise build, load or pull it yourself (docker build / docker load / docker pull ${image}).`,
    );
  }

  // Ports and server name.
  const portsFromEnv = labels[LABEL_PORTS_FROM_ENV] === "1";
  const env: Record<string, string> = {};
  let clientPort: number;
  let fedPort: number;
  if (network === "host") {
    if (portsFromEnv) {
      clientPort = await freePort();
      fedPort = await freePort();
      Object.assign(env, { MATRIX_CONFORMANCE_CLIENT_PORT: String(clientPort), MATRIX_CONFORMANCE_FEDERATION_PORT: String(fedPort), MATRIX_CONFORMANCE_BIND_ADDRESS: "127.0.0.1" });
    } else {
      clientPort = 8008;
      fedPort = 8448;
      for (const p of [clientPort, fedPort]) {
        await assertPortFree(p).catch((err: Error) => {
          throw new SetupError(`${err.message}.\nWith host networking the image ${image} binds the fixed Complement ports 8008 and 8448 (it does not carry the label ${LABEL_PORTS_FROM_ENV}=1), so both must be free.`);
        });
      }
    }
  } else {
    const bridge = await dockerode.listNetworks({ filters: { name: ["bridge"] } }).catch(() => []);
    if (!bridge.some((n) => n.Name === "bridge")) {
      throw new SetupError(
        `the container engine has no bridge network (it was started with --bridge=none, as ci/docker/start-dockerd.sh does), so ports cannot be published.\n` +
          `Run with --container-network host.`,
      );
    }
    clientPort = await freePort();
    fedPort = await freePort();
  }
  const serverName = `localhost:${fedPort}`;
  env.SERVER_NAME = serverName;
  // The contract expects a CA; without the run's, one of our own so that the image starts.
  const ca = config.ca ?? (await createRunCa());

  const runId = randomBytes(6).toString("hex");
  const owner = processIdentity() ?? `${hostname()}:${process.pid}:?`;
  const logFile = join(config.reportDir, imageLogName(image));
  await mkdir(config.reportDir, { recursive: true });
  await writeFile(logFile, "");
  const watchdog = startWatchdog(runId);

  let container: Awaited<ReturnType<InstanceType<Testcontainers["GenericContainer"]>["start"]>> | undefined;
  let logStream: WriteStream | undefined;
  let logsDone: Promise<void> = Promise.resolve();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      if (container) await container.stop({ remove: true, removeVolumes: true, timeout: 10_000 }).catch(() => undefined);
      await Promise.race([logsDone, new Promise((r) => setTimeout(r, 3000))]);
      logStream?.end();
      await removeRun(client, runId);
    } finally {
      await endWatchdog(watchdog);
    }
  };

  const baseUrl = `http://127.0.0.1:${clientPort}`;
  try {
    let gc = new tc.GenericContainer(image)
      .withName(`matrix-conformance-${runId}`)
      .withEnvironment(env)
      .withLabels({ [LABEL_RUN]: runId, [LABEL_OWNER]: owner, "org.matrix-conformance.image": image })
      .withCopyContentToContainer([
        { content: ca.certPem, target: "/complement/ca/ca.crt", mode: 0o644 },
        { content: ca.keyPem, target: "/complement/ca/ca.key", mode: 0o600 },
      ])
      // Readiness is checked below, against the client API, the same way for both networks.
      .withWaitStrategy(noWait());
    gc = network === "host" ? gc.withNetworkMode("host") : gc.withExposedPorts({ container: 8008, host: clientPort }, { container: 8448, host: fedPort });
    config.onProgress?.(`starting ${image} as ${serverName} with ${network} networking (log: ${logFile})`);
    try {
      container = await gc.start();
    } catch (err) {
      throw new SetupError(`the container engine could not start ${image}: ${(err as Error).message}`);
    }
    logStream = createWriteStream(logFile, { flags: "a" });
    const logs = await container.logs();
    logs.pipe(logStream, { end: false });
    logsDone = finished(logs).catch(() => undefined);

    const deadline = Date.now() + readyTimeoutMs();
    let problem = "no answer yet";
    for (;;) {
      const state = (await dockerode.getContainer(container.getId()).inspect()).State;
      if (!state.Running) {
        await Promise.race([logsDone, new Promise((r) => setTimeout(r, 1000))]);
        throw new SetupError(`the container of ${image} exited (code ${state.ExitCode}) before it became ready.\nLast 50 lines of ${logFile}:\n${await tailLog(logFile)}`);
      }
      const p = await probe(`${baseUrl}/_matrix/client/versions`);
      if (p.ok) break;
      problem = p.problem;
      if (Date.now() > deadline) {
        throw new SetupError(`${image} did not become ready within ${readyTimeoutMs() / 1000} s (${baseUrl}/_matrix/client/versions: ${problem}).\nLast 50 lines of ${logFile}:\n${await tailLog(logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    info: {
      target: config.target,
      serverName,
      baseUrl,
      version: (await serverVersion(baseUrl)) ?? image,
      logFile,
      registration: { sharedSecret: COMPLEMENT_SHARED_SECRET },
      federation: config.ca ? { url: `https://localhost:${fedPort}` } : undefined,
    },
    stop,
  };
}

/** A wait strategy that does not wait: readiness is polled by startImage itself. */
function noWait() {
  let timeout = readyTimeoutMs();
  let set = false;
  const strategy = {
    waitUntilReady: async () => {},
    withStartupTimeout(ms: number) {
      timeout = ms;
      set = true;
      return strategy;
    },
    isStartupTimeoutSet: () => set,
    getStartupTimeout: () => timeout,
  };
  return strategy;
}

