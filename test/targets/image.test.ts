// The container target (`--target image:NAME`) for real, with the Dendrite image that
// ci/docker/build-dendrite-image.sh makes: it starts, serves the suite, and leaves no container
// behind however the run ends (normal stop, Ctrl-C, SIGKILL, a run that died earlier). The tests
// that need a Docker engine are skipped, visibly and with the reason, when none answers; start one
// with ci/docker/start-dockerd.sh.
import { execFile, spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { ExchangeLog, MatrixClient, registerUser } from "../../harness/client/index.ts";
import { createRunCa } from "../../harness/federation/tls.ts";
import { LABEL_OWNER, LABEL_RUN, imageLogName, ownerIsGone, processIdentity, startImage } from "../../harness/targets/image.ts";
import { tempDir } from "./helpers.ts";
import { SetupError } from "../../harness/targets/types.ts";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const SPEC_DIR = process.env.MATRIX_SPEC_DIR ?? resolve(ROOT, "../shared/matrix-spec");
const IMAGE = "matrix-conformance/dendrite:v0.13.8";
const TARGET = `image:${IMAGE}`;
const DOCKER_HOST = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";

/** Whether an engine answers /_ping at DOCKER_HOST (or the default socket) within two seconds. */
function pingDocker(): Promise<boolean> {
  return new Promise((resolvePing) => {
    const target = DOCKER_HOST.startsWith("unix://")
      ? { socketPath: DOCKER_HOST.slice("unix://".length) }
      : { host: new URL(DOCKER_HOST.replace(/^tcp:/, "http:")).hostname, port: Number(new URL(DOCKER_HOST.replace(/^tcp:/, "http:")).port || 2375) };
    const req = httpRequest({ ...target, path: "/_ping", timeout: 2000 }, (res) => {
      res.resume();
      resolvePing(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolvePing(false));
    req.end();
  });
}

const dockerAvailable = await pingDocker();
const SKIP_REASON = `no Docker engine answers at ${DOCKER_HOST}; start one with ci/docker/start-dockerd.sh to run these`;
if (!dockerAvailable) console.warn(`test/targets/image.test.ts: SKIPPING the container tests: ${SKIP_REASON}`);
const withDocker = dockerAvailable ? "" : ` (SKIPPED: ${SKIP_REASON})`;


async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { timeout: 60_000 })).stdout.trim();
}

/** IDs of containers whose owner label names `pid` on this host. */
async function containersOf(pid: number): Promise<string[]> {
  const out = await docker("ps", "-a", "--filter", `label=${LABEL_OWNER}`, "--format", `{{.ID}} {{.Label "${LABEL_OWNER}"}}`);
  return out
    .split("\n")
    .filter(Boolean)
    .filter((l) => l.split(" ")[1]?.startsWith(`${hostname()}:${pid}:`))
    .map((l) => l.split(" ")[0]!);
}

async function eventually(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return cond();
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Runs the CLI against the image, waits until its container serves, then sends `signal` to the CLI. */
async function interruptRun(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; pid: number; versionsUrl: string; stderr: string }> {
  const reportDir = await tempDir("mc-image-");
  const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), "run", "--target", TARGET, "--container-network", "host", "--report-dir", reportDir], {
    cwd: ROOT,
    env: { ...process.env, MATRIX_SPEC_DIR: SPEC_DIR, NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on("close", (c, s) => r([c, s])));
  const pid = child.pid!;
  let versionsUrl = "";
  const up = await eventually(async () => {
    const [id] = await containersOf(pid);
    if (!id) return false;
    const env = await docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id).catch(() => "");
    const port = /^MATRIX_CONFORMANCE_CLIENT_PORT=(\d+)$/m.exec(env)?.[1];
    if (!port) return false;
    versionsUrl = `http://127.0.0.1:${port}/_matrix/client/versions`;
    return answers(versionsUrl);
  }, 90_000);
  expect(up, `the container never served; the CLI said:\n${stderr}`).toBe(true);
  child.kill(signal);
  const [code, sig] = await closed;
  return { code, signal: sig, pid, versionsUrl, stderr };
}

describe(`the image target with the Dendrite image${withDocker}`, () => {
  beforeAll(async () => {
    if (!dockerAvailable) return;
    // The image is made locally from the cached Dendrite build (built first if needed).
    const present = await docker("image", "inspect", IMAGE).then(
      () => true,
      () => false,
    );
    if (!present) await run("bash", [join(ROOT, "ci/docker/build-dendrite-image.sh")], { cwd: ROOT, timeout: 30 * 60_000 });
  }, 30 * 60_000);

  test.skipIf(!dockerAvailable)("starts with host networking, serves the client API and TLS federation, and leaves no container after stop()", async () => {
    const ca = await createRunCa();
    const reportDir = await tempDir("mc-image-");
    const d = await startImage({ target: TARGET, containerNetwork: "host", reportDir, cacheDir: await tempDir("mc-cache-"), ca });
    try {
      expect(d.info.target).toBe(TARGET);
      expect(d.info.serverName).toMatch(/^localhost:\d+$/);
      expect(d.info.registration.sharedSecret).toBe("complement");
      expect(d.info.version).toBe("Dendrite 0.13.8");
      expect(d.info.federation?.url).toBe(`https://${d.info.serverName}`);
      expect(await containersOf(process.pid)).toHaveLength(1);
      const user = await registerUser(new MatrixClient({ baseUrl: d.info.baseUrl, log: new ExchangeLog() }), { sharedSecret: d.info.registration.sharedSecret });
      expect(user.userId).toMatch(new RegExp(`:${d.info.serverName}$`));
      // The image signed its certificate with the run CA that was copied in before start.
      const dispatcher = new Agent({ connect: { ca: ca.certPem } });
      const keys = await request(`${d.info.federation!.url}/_matrix/key/v2/server`, { dispatcher });
      const body = (await keys.body.json()) as { server_name?: string };
      await dispatcher.close();
      expect(body.server_name).toBe(d.info.serverName);
    } finally {
      await d.stop();
    }
    expect(await containersOf(process.pid)).toEqual([]);
    expect(await answers(`${d.info.baseUrl}/_matrix/client/versions`)).toBe(false);
    const log = await readFile(join(reportDir, imageLogName(IMAGE)), "utf8");
    expect(log).toContain("Dendrite version 0.13.8");
  }, 120_000);

  test.skipIf(!dockerAvailable)("Ctrl-C (SIGINT) to the CLI stops the run with exit code 130 and removes the container", async () => {
    const r = await interruptRun("SIGINT");
    expect(r.code).toBe(130);
    expect(await eventually(async () => (await containersOf(r.pid)).length === 0, 20_000), "a container outlived the interrupted run").toBe(true);
    expect(await answers(r.versionsUrl)).toBe(false);
  }, 180_000);

  test.skipIf(!dockerAvailable)("killing the CLI outright (SIGKILL) still removes the container", async () => {
    const r = await interruptRun("SIGKILL");
    expect(r.signal).toBe("SIGKILL");
    expect(await eventually(async () => (await containersOf(r.pid)).length === 0, 20_000), "a container outlived the SIGKILLed harness").toBe(true);
    expect(await answers(r.versionsUrl)).toBe(false);
  }, 180_000);

  test.skipIf(!dockerAvailable)("a start sweeps away containers whose harness is gone, and keeps those of live runs", async () => {
    // A process that has exited: its pid names nobody (or somebody else, with another start time).
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => dead.on("exit", r));
    const orphan = await docker("create", "--network", "none", "--label", `${LABEL_OWNER}=${hostname()}:${dead.pid}:1`, "--label", `${LABEL_RUN}=test-orphan`, IMAGE);
    const alive = await docker("create", "--network", "none", "--label", `${LABEL_OWNER}=${processIdentity()}`, "--label", `${LABEL_RUN}=test-alive`, IMAGE);
    try {
      const d = await startImage({ target: TARGET, containerNetwork: "host", reportDir: await tempDir("mc-image-"), cacheDir: await tempDir("mc-cache-") });
      await d.stop();
      const left = await docker("ps", "-aq", "--no-trunc");
      expect(left).not.toContain(orphan);
      expect(left).toContain(alive);
    } finally {
      await docker("rm", "-f", orphan, alive).catch(() => "");
    }
  }, 120_000);

  test.skipIf(!dockerAvailable)("an image that is not in the engine is a setup error that says how to get it", async () => {
    const err = await startImage({ target: "image:matrix-conformance/dendrite:no-such-tag", containerNetwork: "host", reportDir: await tempDir("mc-image-"), cacheDir: await tempDir("mc-cache-") }).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("is not in the local engine, and the harness pulls nothing");
    expect(err.message).toContain("ci/docker/build-dendrite-image.sh");
  });

  test.skipIf(!dockerAvailable)("bridge networking on an engine without a bridge network is a setup error that points at host networking", async () => {
    const hasBridge = (await docker("network", "ls", "--format", "{{.Name}}")).split("\n").includes("bridge");
    const err = await startImage({ target: TARGET, containerNetwork: "bridge", reportDir: await tempDir("mc-image-"), cacheDir: await tempDir("mc-cache-") }).then(
      async (d) => (await d.stop(), undefined),
      (e) => e,
    );
    if (hasBridge) {
      expect(err, "bridge networking failed on an engine that has a bridge").toBeUndefined();
    } else {
      expect(err).toBeInstanceOf(SetupError);
      expect(err.message).toContain("--container-network host");
    }
    expect(await containersOf(process.pid)).toEqual([]);
  }, 120_000);
});

describe("the image target without an engine", () => {
  test.skipIf(dockerAvailable)(`with no engine reachable the run stops with a setup error that says how to start one${dockerAvailable ? " (SKIPPED: an engine is running)" : ""}`, async () => {
    const reportDir = await tempDir("mc-image-");
    const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), "run", "--target", TARGET, "--container-network", "host", "--report-dir", reportDir], {
      cwd: ROOT,
      env: { ...process.env, MATRIX_SPEC_DIR: SPEC_DIR, NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code).toBe(2);
    expect(stderr).toContain("no container engine answers");
    expect(stderr).toContain("ci/docker/start-dockerd.sh");
  }, 60_000);
});

describe("container ownership", () => {
  test("this process is alive; an exited one and a reused pid with another start time are gone; other hosts are not judged", async () => {
    const me = processIdentity();
    expect(me).toMatch(new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${process.pid}:\\d+$`));
    expect(ownerIsGone(me!)).toBe(false);
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => dead.on("exit", r));
    expect(ownerIsGone(`${hostname()}:${dead.pid}:1`)).toBe(true);
    expect(ownerIsGone(`${hostname()}:${process.pid}:1`)).toBe(true);
    expect(ownerIsGone(`some-other-host:${dead.pid}:1`)).toBe(false);
  });

  test("log files are named after the image", () => {
    expect(imageLogName("matrix-conformance/dendrite:v0.13.8")).toBe("matrix-conformance_dendrite_v0.13.8.log");
  });
});
