// The Synapse target: installs the pinned `matrix-synapse` from PyPI into a venv in the cache the
// first time, writes a config and signing key for this run, starts it on free loopback ports under
// the supervisor, and waits until /_matrix/client/versions answers.
//
// Synapse is AGPL-3.0: it runs as a separate, unmodified program and nothing of it is imported.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { readSetting } from "../settings.ts";
import { issueServerCert } from "../federation/tls.ts";
import { exists, withLock } from "./cache.ts";
import { freePort, runCommand, startSupervised, stopOnce, waitForReady } from "./process.ts";
import { SetupError, type Deployment, type TargetConfig } from "./types.ts";

/** The Synapse release this suite is validated against. */
export const SYNAPSE_VERSION = "1.163.2";
const MIN_PYTHON: [number, number] = [3, 10];
const OVERLAY = fileURLToPath(new URL("../../fixtures/targets/synapse/homeserver.yaml", import.meta.url));

export interface SynapseInstall {
  version: string;
  python: string;
}

/** Installs Synapse into `<cache>/synapse/<version>/venv` unless it is there already. */
export async function provisionSynapse(cacheDir: string, version = SYNAPSE_VERSION, onProgress?: (line: string) => void): Promise<SynapseInstall> {
  const root = join(cacheDir, "synapse", version);
  const venv = join(root, "venv");
  const python = join(venv, "bin", "python");
  const marker = join(venv, ".matrix-conformance-installed");
  if (await exists(marker)) return { version, python };

  await mkdir(root, { recursive: true });
  return withLock(
    join(root, ".lock"),
    async () => {
      if (await exists(marker)) return { version, python };
      const systemPython = await findPython();
      onProgress?.(`installing Synapse ${version} from PyPI into ${venv} (once; about a minute)`);
      const staging = `${venv}.partial-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      const made = await runCommand(systemPython, ["-m", "venv", staging]);
      if (made.code !== 0) {
        throw new SetupError(
          `could not create a Python virtual environment with '${systemPython} -m venv'.\n` +
            `On Debian or Ubuntu install the venv module: apt-get install python3-venv\n${made.output.trim()}`,
        );
      }
      const pip = await runCommand(join(staging, "bin", "python"), ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", `matrix-synapse==${version}`], {
        timeoutMs: 20 * 60_000,
      });
      if (pip.code !== 0) {
        await rm(staging, { recursive: true, force: true });
        throw new SetupError(
          `pip could not install matrix-synapse==${version} (exit ${pip.code}). Check that PyPI is reachable and the version exists.\n` +
            pip.output.trim().split("\n").slice(-20).join("\n"),
        );
      }
      await rm(venv, { recursive: true, force: true });
      await rename(staging, venv);
      await writeFile(marker, `${version}\n`);
      return { version, python };
    },
    { onWait: () => onProgress?.(`waiting for another run that is installing Synapse ${version}`) },
  );
}

async function findPython(): Promise<string> {
  const explicit = readSetting("python");
  const candidate = explicit || "python3";
  let res;
  try {
    res = await runCommand(candidate, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
  } catch {
    res = undefined;
  }
  if (!res || res.code !== 0) {
    throw new SetupError(
      explicit
        ? `MATRIX_CONFORMANCE_PYTHON is set to '${explicit}', which does not run as a Python interpreter.`
        : `python3 was not found. The Synapse target needs Python >= ${MIN_PYTHON.join(".")} with the venv module ` +
            `(Debian/Ubuntu: apt-get install python3 python3-venv), or set MATRIX_CONFORMANCE_PYTHON.`,
    );
  }
  const [major, minor] = res.output.trim().split(".").map(Number);
  if ((major ?? 0) > MIN_PYTHON[0] || ((major ?? 0) === MIN_PYTHON[0] && (minor ?? 0) >= MIN_PYTHON[1])) return candidate;
  throw new SetupError(`Synapse needs Python >= ${MIN_PYTHON.join(".")}, but ${candidate} is ${res.output.trim()}. Set MATRIX_CONFORMANCE_PYTHON to a newer interpreter.`);
}

/** A signing key file in the format Synapse reads: "ed25519 <version> <unpadded base64 seed>". */
function signingKeyFile(): string {
  const seed = randomBytes(32).toString("base64").replace(/=+$/, "");
  return `ed25519 a_${randomBytes(3).toString("hex")} ${seed}\n`;
}

export async function startSynapse(config: TargetConfig): Promise<Deployment> {
  const install = await provisionSynapse(config.cacheDir, config.synapseVersion ?? SYNAPSE_VERSION, config.onProgress);
  const dataDir = await mkdtemp(join(tmpdir(), "matrix-conformance-synapse-"));
  const logFile = join(config.reportDir, "synapse.log");
  await mkdir(config.reportDir, { recursive: true });
  await writeFile(logFile, "");

  const port = await freePort();
  // With the run's CA, federation gets its own TLS listener and the server name carries its port,
  // so peers reach it with no .well-known or SRV lookup.
  const fedPort = config.ca ? await freePort() : undefined;
  const serverName = `localhost:${fedPort ?? port}`;
  const sharedSecret = randomBytes(24).toString("hex");
  const listeners: Record<string, unknown>[] = [
    { port, bind_addresses: ["127.0.0.1"], type: "http", tls: false, x_forwarded: false, resources: [{ names: fedPort ? ["client"] : ["client", "federation"], compress: false }] },
  ];
  const tlsConfig: Record<string, unknown> = {};
  if (config.ca && fedPort) {
    const cert = await issueServerCert(config.ca, { dns: ["localhost"], ips: ["127.0.0.1"] });
    await writeFile(join(dataDir, "tls.crt"), cert.certPem);
    await writeFile(join(dataDir, "tls.key"), cert.keyPem);
    await writeFile(join(dataDir, "ca.crt"), config.ca.certPem);
    listeners.push({ port: fedPort, bind_addresses: ["127.0.0.1"], type: "http", tls: true, x_forwarded: false, resources: [{ names: ["federation", "keys", "openid"], compress: false }] });
    Object.assign(tlsConfig, {
      tls_certificate_path: join(dataDir, "tls.crt"),
      tls_private_key_path: join(dataDir, "tls.key"),
      federation_verify_certificates: true,
      federation_custom_ca_list: [join(dataDir, "ca.crt")],
    });
  }
  const runConfig = {
    server_name: serverName,
    public_baseurl: `http://127.0.0.1:${port}/`,
    pid_file: join(dataDir, "homeserver.pid"),
    listeners,
    ...tlsConfig,
    database: { name: "sqlite3", args: { database: join(dataDir, "homeserver.db") } },
    log_config: join(dataDir, "log.yaml"),
    media_store_path: join(dataDir, "media"),
    signing_key_path: join(dataDir, "signing.key"),
    registration_shared_secret: sharedSecret,
    macaroon_secret_key: randomBytes(24).toString("hex"),
    form_secret: randomBytes(24).toString("hex"),
  };
  const logConfig = {
    version: 1,
    formatters: { precise: { format: "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s" } },
    handlers: { console: { class: "logging.StreamHandler", formatter: "precise", stream: "ext://sys.stdout" } },
    loggers: { "synapse.storage.SQL": { level: "INFO" } },
    root: { level: "INFO", handlers: ["console"] },
    disable_existing_loggers: false,
  };
  await writeFile(join(dataDir, "run.yaml"), stringify(runConfig));
  await writeFile(join(dataDir, "log.yaml"), stringify(logConfig));
  await writeFile(join(dataDir, "signing.key"), signingKeyFile());

  config.onProgress?.(`starting Synapse ${install.version} as ${serverName}, client API http://127.0.0.1:${port} (log: ${logFile})`);
  const proc = startSupervised(install.python, ["-m", "synapse.app.homeserver", "-c", OVERLAY, "-c", join(dataDir, "run.yaml")], {
    cwd: dataDir,
    env: { ...process.env, PYTHONUNBUFFERED: "1", SYNAPSE_ASYNC_IO_REACTOR: process.env.SYNAPSE_ASYNC_IO_REACTOR ?? "0" },
    logFile,
  });
  const stop = stopOnce(async () => {
    await proc.stop();
    if (!config.keepData) await rm(dataDir, { recursive: true, force: true });
  });
  try {
    await waitForReady(`http://127.0.0.1:${port}/_matrix/client/versions`, proc, { name: "Synapse", logFile, timeoutMs: 60_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    info: {
      target: "synapse",
      serverName,
      baseUrl: `http://127.0.0.1:${port}`,
      version: `Synapse ${install.version}`,
      logFile,
      registration: { sharedSecret },
      federation: fedPort ? { url: `https://localhost:${fedPort}` } : undefined,
    },
    stop,
  };
}

