// The Dendrite target: builds the pinned `github.com/matrix-org/dendrite` release with `go install`
// from the Go module proxy into the cache the first time (minutes; later runs reuse it), writes a
// config and signing key for this run, starts it on free loopback ports under the supervisor, and
// waits until /_matrix/client/versions answers.
//
// Dendrite v0.13.8 is Apache-2.0 and runs as a separate, unmodified program; nothing of it is
// kept in this repository. With the run's CA, Dendrite serves federation over HTTPS with a
// certificate from that CA and trusts the CA for its own outbound federation: Go reads extra roots
// from SSL_CERT_FILE, so the harness points it at a bundle of the system roots plus the run CA,
// and `disable_tls_validation` stays false.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { parse, stringify } from "yaml";
import { issueServerCert } from "../federation/tls.ts";
import { readSetting } from "../settings.ts";
import { exists, withLock } from "./cache.ts";
import { findGo, goInstall } from "./go.ts";
import { freePort, runCommand, serverVersion, startSupervised, stopOnce, tailLog, waitForReady } from "./process.ts";
import { SetupError, type Deployment, type TargetConfig } from "./types.ts";

/** The Dendrite release this suite is validated against (the last Apache-2.0 one of matrix-org/dendrite). */
export const DENDRITE_VERSION = "v0.13.8";
export const DENDRITE_MODULE = "github.com/matrix-org/dendrite";
const COMMANDS = ["dendrite", "generate-config", "generate-keys"] as const;
const OVERLAY = fileURLToPath(new URL("../../fixtures/targets/dendrite/dendrite.yaml", import.meta.url));
const MARKER = ".matrix-conformance-installed";

export interface DendriteInstall {
  version: string;
  binDir: string;
  dendrite: string;
  generateConfig: string;
  generateKeys: string;
}

function installAt(binDir: string, version: string): DendriteInstall {
  return {
    version,
    binDir,
    dendrite: join(binDir, "dendrite"),
    generateConfig: join(binDir, "generate-config"),
    generateKeys: join(binDir, "generate-keys"),
  };
}

/** The version to build: the pin, or a `vX.Y.Z` given in the config or MATRIX_CONFORMANCE_DENDRITE_VERSION. */
export function dendriteVersion(config: Pick<TargetConfig, "dendriteVersion">, env: NodeJS.ProcessEnv = process.env): string {
  const raw = config.dendriteVersion ?? readSetting("dendriteVersion", env) ?? DENDRITE_VERSION;
  const v = raw.startsWith("v") ? raw : `v${raw}`;
  if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v)) throw new SetupError(`'${raw}' is not a Dendrite release version (expected e.g. ${DENDRITE_VERSION})`);
  return v;
}

/**
 * Builds Dendrite's programs into `<cache>/dendrite/<version>/bin` unless they are there already.
 * The build goes into a staging directory that is renamed into place only when complete, under a
 * lock, so concurrent runs neither build twice nor see half a build.
 */
export async function provisionDendrite(cacheDir: string, version = DENDRITE_VERSION, onProgress?: (line: string) => void): Promise<DendriteInstall> {
  const root = join(cacheDir, "dendrite", version);
  const binDir = join(root, "bin");
  const install = installAt(binDir, version);
  if (await exists(join(binDir, MARKER))) return install;

  await mkdir(root, { recursive: true });
  return withLock(
    join(root, ".lock"),
    async () => {
      if (await exists(join(binDir, MARKER))) return install;
      const go = await findGo(`Dendrite target (${DENDRITE_MODULE}@${version})`);
      const staging = `${binDir}.partial-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      onProgress?.(`building Dendrite ${version} with ${go.version} (go install ${DENDRITE_MODULE}/cmd/{${COMMANDS.join(",")}}@${version}) into ${binDir}; once, several minutes on 2 cores`);
      try {
        const built = await goInstall(go, {
          module: DENDRITE_MODULE,
          version,
          packages: COMMANDS.map((c) => `cmd/${c}`),
          binDir: staging,
          what: `Dendrite ${version}`,
          cgo: true,
          onProgress,
        });
        for (const c of COMMANDS) {
          if (!(await exists(join(staging, c)))) throw new SetupError(`'go install' finished but left no '${c}' in ${staging}`);
        }
        await writeFile(join(staging, MARKER), `${DENDRITE_MODULE}@${version}\n${go.version}\n${built.ldflags.join(" ")}\n`);
        await rm(binDir, { recursive: true, force: true });
        await rename(staging, binDir);
        onProgress?.(`built Dendrite ${version} in ${built.seconds} s`);
        return install;
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
    },
    { onWait: () => onProgress?.(`waiting for another run that is building Dendrite ${version}`) },
  );
}

type Yaml = Record<string, unknown>;
const isMap = (v: unknown): v is Yaml => typeof v === "object" && v !== null && !Array.isArray(v);

/** Maps merge key by key; anything else (lists included) in `over` replaces what `base` has. */
export function mergeConfig(base: Yaml, over: Yaml): Yaml {
  const out: Yaml = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMap(v) && isMap(out[k]) ? mergeConfig(out[k] as Yaml, v) : v;
  return out;
}

function section(cfg: Yaml, key: string): Yaml {
  const v = cfg[key];
  if (isMap(v)) return v;
  const fresh: Yaml = {};
  cfg[key] = fresh;
  return fresh;
}

/** A CA bundle for Go's cert pool: the roots the environment already names, plus the run CA. */
async function caBundle(runCaPem: string): Promise<string> {
  const sources = [process.env.SSL_CERT_FILE, "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];
  for (const s of sources) {
    if (!s) continue;
    const text = await readFile(s, "utf8").catch(() => undefined);
    if (text) return `${text.trimEnd()}\n${runCaPem}`;
  }
  return runCaPem;
}

export async function startDendrite(config: TargetConfig): Promise<Deployment> {
  const install = await provisionDendrite(config.cacheDir, dendriteVersion(config), config.onProgress);
  const dataDir = await mkdtemp(join(tmpdir(), "matrix-conformance-dendrite-"));
  const logFile = join(config.reportDir, "dendrite.log");
  await mkdir(config.reportDir, { recursive: true });
  await writeFile(logFile, "");
  const cleanup = async () => {
    if (!config.keepData) await rm(dataDir, { recursive: true, force: true });
  };

  let proc: ReturnType<typeof startSupervised> | undefined;
  let port: number;
  let fedPort: number | undefined;
  let serverName: string;
  const sharedSecret = randomBytes(24).toString("hex");
  try {
    port = await freePort();
    // With the run's CA, federation gets its own HTTPS listener and the server name carries its
    // port, so peers reach it with no .well-known or SRV lookup.
    fedPort = config.ca ? await freePort() : undefined;
    serverName = `localhost:${fedPort ?? port}`;

    const generated = await runCommand(install.generateConfig, ["-ci", "-server", serverName, "-dir", dataDir], { cwd: dataDir, timeoutMs: 60_000 });
    if (generated.code !== 0) throw new SetupError(`Dendrite's generate-config failed (exit ${generated.code}):\n${generated.output.trim().split("\n").slice(-20).join("\n")}`);
    const overlay = parse(await readFile(OVERLAY, "utf8")) as Yaml;
    const cfg = mergeConfig(parse(generated.output) as Yaml, overlay);
    const global = section(cfg, "global");
    global.server_name = serverName;
    global.private_key = join(dataDir, "matrix_key.pem");
    section(global, "jetstream").storage_path = dataDir;
    section(cfg, "client_api").registration_shared_secret = sharedSecret;
    const level = readSetting("dendriteLogLevel");
    if (level) cfg.logging = [{ type: "std", level }];
    await writeFile(join(dataDir, "dendrite.yaml"), stringify(cfg));

    const keys = await runCommand(install.generateKeys, ["--private-key", join(dataDir, "matrix_key.pem")], { cwd: dataDir, timeoutMs: 60_000 });
    if (keys.code !== 0) throw new SetupError(`Dendrite's generate-keys failed (exit ${keys.code}):\n${keys.output.trim()}`);

    const args = ["--config", join(dataDir, "dendrite.yaml"), "--really-enable-open-registration", "--http-bind-address", `127.0.0.1:${port}`];
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (config.ca && fedPort) {
      const cert = await issueServerCert(config.ca, { dns: ["localhost"], ips: ["127.0.0.1"] });
      await writeFile(join(dataDir, "tls.crt"), cert.certPem);
      await writeFile(join(dataDir, "tls.key"), cert.keyPem);
      await writeFile(join(dataDir, "ca-bundle.pem"), await caBundle(config.ca.certPem));
      env.SSL_CERT_FILE = join(dataDir, "ca-bundle.pem");
      args.push("--https-bind-address", `127.0.0.1:${fedPort}`, "--tls-cert", join(dataDir, "tls.crt"), "--tls-key", join(dataDir, "tls.key"));
    } else {
      // Without TLS the HTTPS listener is not started, but keep its default (all interfaces,
      // 8448) out of the picture all the same.
      args.push("--https-bind-address", `127.0.0.1:${await freePort()}`);
    }

    config.onProgress?.(`starting Dendrite ${install.version} as ${serverName} (log: ${logFile})`);
    proc = startSupervised(install.dendrite, args, { cwd: dataDir, env, logFile });
    await waitForReady(`http://127.0.0.1:${port}/_matrix/client/versions`, proc, { name: "Dendrite", logFile, timeoutMs: 60_000 });
    if (fedPort) await waitForTls(`https://localhost:${fedPort}/_matrix/key/v2/server`, config.ca!.certPem, logFile);
  } catch (err) {
    await proc?.stop();
    await cleanup();
    throw err;
  }

  const running = proc!;
  const stop = stopOnce(async () => {
    await running.stop();
    await cleanup();
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    info: {
      target: "dendrite",
      serverName,
      baseUrl,
      version: (await serverVersion(baseUrl)) ?? `Dendrite ${install.version.replace(/^v/, "")}`,
      logFile,
      registration: { sharedSecret },
      federation: fedPort ? { url: `https://localhost:${fedPort}` } : undefined,
    },
    stop,
  };
}

/**
 * Dendrite starts its HTTPS listener separately from the HTTP one: wait until it answers too,
 * checking its certificate against the run CA on the way.
 */
async function waitForTls(url: string, caPem: string, logFile: string): Promise<void> {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  const deadline = Date.now() + 20_000;
  let problem = "no answer";
  try {
    while (Date.now() < deadline) {
      try {
        const res = await request(url, { dispatcher, signal: AbortSignal.timeout(2000) });
        await res.body.arrayBuffer();
        if (res.statusCode === 200) return;
        problem = `status ${res.statusCode}`;
      } catch (err) {
        problem = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await dispatcher.close();
  }
  throw new SetupError(`Dendrite's federation listener ${url} did not answer over TLS within 20 s (${problem}).\nLast 50 lines of ${logFile}:\n${await tailLog(logFile)}`);
}

