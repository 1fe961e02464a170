// The Dendrite target for real: it is built once into the cache (go install from the Go module
// proxy; minutes the first time, seconds after), starts on loopback, federates over TLS with the
// run's CA in both directions, stops without leaving a process behind, and explains setup problems.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:https";
import { join, resolve } from "node:path";
import { Agent, request } from "undici";
import { describe, expect, test } from "vitest";
import { ExchangeLog, MatrixClient, registerUser } from "../../harness/client/index.ts";
import { createRunCa, issueServerCert, type RunCa } from "../../harness/federation/tls.ts";
import { defaultCacheDir } from "../../harness/targets/cache.ts";
import { DENDRITE_VERSION, dendriteVersion, mergeConfig } from "../../harness/targets/dendrite.ts";
import { startTarget } from "../../harness/targets/index.ts";
import { answers, eventually, tempDir } from "./helpers.ts";
import { SetupError } from "../../harness/targets/types.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SPEC_DIR = process.env.MATRIX_SPEC_DIR ?? resolve(ROOT, "../shared/matrix-spec");
/** The first build of Dendrite takes minutes on two cores; later runs find it in the cache. */
const BUILD_TIMEOUT = 30 * 60_000;



/** A stand-in federation peer on loopback with a certificate from `ca`, recording what reaches it. */
async function fakePeer(ca: RunCa): Promise<{ port: number; requests: string[]; tlsErrors: number; close(): void }> {
  const cert = await issueServerCert(ca);
  const requests: string[] = [];
  const peer = { port: 0, requests, tlsErrors: 0, close: () => srv.close() };
  const srv: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ displayname: "Remote Alice" }));
  });
  srv.on("tlsClientError", () => peer.tlsErrors++);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  peer.port = (srv.address() as { port: number }).port;
  return peer;
}

describe("the Dendrite target", () => {
  test(
    "builds once, starts on loopback with TLS federation from the run CA, registers with the shared secret, and is gone after stop()",
    async () => {
      const ca = await createRunCa();
      const progress: string[] = [];
      const t0 = Date.now();
      const d = await startTarget({ target: "dendrite", reportDir: await tempDir("mc-dendrite-"), cacheDir: defaultCacheDir(), ca, onProgress: (l) => progress.push(l) });
      const elapsed = Date.now() - t0;
      try {
        expect(d.info.serverName).toMatch(/^localhost:\d+$/);
        expect(d.info.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(d.info.version).toBe(`Dendrite ${DENDRITE_VERSION.replace(/^v/, "")}`);
        expect(d.info.federation?.url).toBe(`https://${d.info.serverName}`);
        expect(d.info.logFile).toMatch(/dendrite\.log$/);
        // Federation over TLS, certificate checked against the run CA only.
        const dispatcher = new Agent({ connect: { ca: ca.certPem } });
        const keys = await request(`${d.info.federation!.url}/_matrix/key/v2/server`, { dispatcher });
        const body = (await keys.body.json()) as { server_name?: string };
        await dispatcher.close();
        expect(keys.statusCode).toBe(200);
        expect(body.server_name).toBe(d.info.serverName);
        // Shared-secret registration, as the suites use it.
        const user = await registerUser(new MatrixClient({ baseUrl: d.info.baseUrl, log: new ExchangeLog() }), { sharedSecret: d.info.registration.sharedSecret });
        expect(user.userId).toMatch(new RegExp(`^@.+:${d.info.serverName}$`));
      } finally {
        await d.stop();
      }
      expect(await answers(`${d.info.baseUrl}/_matrix/client/versions`), "Dendrite still answers after stop()").toBe(false);
      console.info(`Dendrite ready after ${(elapsed / 1000).toFixed(1)} s${progress.some((l) => l.startsWith("built")) ? " (including the build)" : ""}`);
    },
    BUILD_TIMEOUT,
  );

  test(
    "outbound federation trusts the run's CA, and refuses a peer whose certificate comes from another CA",
    async () => {
      const ca = await createRunCa();
      const d = await startTarget({ target: "dendrite", reportDir: await tempDir("mc-dendrite-"), cacheDir: defaultCacheDir(), ca });
      const trusted = await fakePeer(ca);
      const stranger = await fakePeer(await createRunCa());
      try {
        const user = await registerUser(new MatrixClient({ baseUrl: d.info.baseUrl, log: new ExchangeLog() }), { sharedSecret: d.info.registration.sharedSecret });
        const profile = async (port: number) =>
          fetch(`${d.info.baseUrl}/_matrix/client/v3/profile/${encodeURIComponent(`@alice:localhost:${port}`)}`, {
            headers: { authorization: `Bearer ${user.accessToken}` },
          }).then(async (r) => ({ status: r.status, body: await r.text() }));
        const fromTrusted = await profile(trusted.port);
        expect(trusted.requests.some((r) => r.startsWith("GET /_matrix/federation/v1/query/profile")), `the peer saw: ${trusted.requests.join(", ")}`).toBe(true);
        expect(fromTrusted.status).toBe(200);
        expect(fromTrusted.body).toContain("Remote Alice");
        const fromStranger = await profile(stranger.port);
        expect(fromStranger.status).not.toBe(200);
        expect(stranger.requests).toEqual([]);
        expect(stranger.tlsErrors).toBeGreaterThan(0);
      } finally {
        trusted.close();
        stranger.close();
        await d.stop();
      }
    },
    BUILD_TIMEOUT,
  );

  test(
    "killing the harness outright (SIGKILL) still takes Dendrite down",
    async () => {
      const reportDir = await tempDir("mc-dendrite-");
      const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), "run", "--target", "dendrite", "--report-dir", reportDir], {
        cwd: ROOT,
        env: { ...process.env, MATRIX_SPEC_DIR: SPEC_DIR, NO_COLOR: "1" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const closed = new Promise<NodeJS.Signals | null>((r) => child.on("close", (_c, s) => r(s)));
      // The progress line names the federation port; Dendrite answers there over TLS.
      const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
      let fedUrl = "";
      const listening = async () =>
        !!fedUrl &&
        request(`${fedUrl}/_matrix/federation/v1/version`, { dispatcher, signal: AbortSignal.timeout(1000) }).then(
          async (r) => (await r.body.arrayBuffer(), r.statusCode === 200),
          () => false,
        );
      const up = await eventually(async () => {
        const port = /as localhost:(\d+)/.exec(stderr)?.[1];
        if (port) fedUrl = `https://localhost:${port}`;
        return listening();
      }, BUILD_TIMEOUT - 60_000);
      expect(up, `Dendrite never answered; the CLI said:\n${stderr}`).toBe(true);
      child.kill("SIGKILL");
      expect(await closed).toBe("SIGKILL");
      expect(await eventually(async () => !(await listening()), 15_000), "Dendrite outlived a SIGKILLed harness").toBe(true);
      await dispatcher.close();
    },
    BUILD_TIMEOUT,
  );
});

describe("Dendrite setup errors", () => {
  test("no go on PATH is a setup error that says how to get Go", async () => {
    const saved = { PATH: process.env.PATH, GO: process.env.MATRIX_CONFORMANCE_GO };
    process.env.PATH = await tempDir("mc-nopath-");
    delete process.env.MATRIX_CONFORMANCE_GO;
    try {
      const err = await startTarget({ target: "dendrite", reportDir: await tempDir("mc-dendrite-"), cacheDir: await tempDir("mc-cache-") }).catch((e) => e);
      expect(err).toBeInstanceOf(SetupError);
      expect(err.message).toContain("'go' was not found on PATH");
      expect(err.message).toContain("go install");
      expect(err.message).toMatch(/Install Go >= 1\.21/);
      expect(err.message).toContain("MATRIX_CONFORMANCE_GO");
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.GO !== undefined) process.env.MATRIX_CONFORMANCE_GO = saved.GO;
    }
  });

  test("MATRIX_CONFORMANCE_GO naming something that is not go is named in the error", async () => {
    const saved = process.env.MATRIX_CONFORMANCE_GO;
    process.env.MATRIX_CONFORMANCE_GO = "/nonexistent/go";
    try {
      const err = await startTarget({ target: "dendrite", reportDir: await tempDir("mc-dendrite-"), cacheDir: await tempDir("mc-cache-") }).catch((e) => e);
      expect(err).toBeInstanceOf(SetupError);
      expect(err.message).toContain("MATRIX_CONFORMANCE_GO is set to '/nonexistent/go'");
    } finally {
      if (saved === undefined) delete process.env.MATRIX_CONFORMANCE_GO;
      else process.env.MATRIX_CONFORMANCE_GO = saved;
    }
  });

  test("a version the Go module proxy does not have is a setup error with go's own words, and leaves nothing half-built", async () => {
    const cacheDir = await tempDir("mc-cache-");
    const err = await startTarget({ target: "dendrite", reportDir: await tempDir("mc-dendrite-"), cacheDir, dendriteVersion: "v0.0.404" }).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("'go install' could not build Dendrite v0.0.404");
    expect(err.message).toMatch(/v0\.0\.404/);
    expect(err.message).toMatch(/not available|unknown revision|invalid version|not found|forbidden|gone/i);
    expect(err.message).toContain("Last lines of its output");
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(join(cacheDir, "dendrite", "v0.0.404"))).toEqual([]);
  }, 120_000);

  test("a version that is not a release version is refused before anything runs", () => {
    expect(() => dendriteVersion({ dendriteVersion: "main; rm -rf /" })).toThrow(SetupError);
    expect(dendriteVersion({ dendriteVersion: "0.13.8" })).toBe("v0.13.8");
    expect(dendriteVersion({}, {})).toBe(DENDRITE_VERSION);
  });
});

describe("Dendrite config overlay", () => {
  test("maps merge key by key; lists and scalars replace", () => {
    const merged = mergeConfig(
      { global: { server_name: "a", presence: { enable_inbound: false, enable_outbound: false } }, mscs: { mscs: ["msc1"], database: { x: 1 } } },
      { global: { presence: { enable_inbound: true } }, mscs: { mscs: [] } },
    );
    expect(merged).toEqual({ global: { server_name: "a", presence: { enable_inbound: true, enable_outbound: false } }, mscs: { mscs: [], database: { x: 1 } } });
  });
});
