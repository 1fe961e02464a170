// The Conduit target for real: from the binary the user built (here the shared Conduit 0.10.12,
// unpacked into the cache by ci/conduit/unpack.sh, or MATRIX_CONFORMANCE_CONDUIT_BIN), it starts on
// loopback, answers /versions, gives the first-user admin grant to its own throwaway user, registers
// test users through open registration, is gone after stop(), and explains setup problems. The
// setup-error tests use small stand-in scripts and need no Conduit.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { ExchangeLog, MatrixClient, registerUser } from "../../harness/client/index.ts";
import { CONDUIT_VERSION, conduitConfig, startConduit } from "../../harness/targets/conduit.ts";
import { startTarget } from "../../harness/targets/index.ts";
import { SetupError } from "../../harness/targets/types.ts";
import { answers, tempDir } from "./helpers.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SHARED = resolve(ROOT, "../shared/targets/conduit");

/** The binary to test, or why there is none: MATRIX_CONFORMANCE_CONDUIT_BIN, else the shared build unpacked by ci/conduit/unpack.sh. */
function findConduit(): { bin?: string; why?: string } {
  const given = process.env.MATRIX_CONFORMANCE_CONDUIT_BIN;
  if (given) return existsSync(given) ? { bin: given } : { why: `MATRIX_CONFORMANCE_CONDUIT_BIN names ${given}, which does not exist` };
  if (!existsSync(SHARED)) return { why: `no Conduit binary: set MATRIX_CONFORMANCE_CONDUIT_BIN, or provide ${SHARED} for ci/conduit/unpack.sh` };
  const out = spawnSync("bash", [join(ROOT, "ci/conduit/unpack.sh"), SHARED], { encoding: "utf8" });
  if (out.status !== 0) return { why: `ci/conduit/unpack.sh failed: ${out.stderr.trim()}` };
  return { bin: out.stdout.trim() };
}

/** The pids of `bin` running as children of `parent` (Linux /proc; empty elsewhere). */
function childrenRunning(parent: number, bin: string): number[] {
  if (!existsSync("/proc")) return [];
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent && readlinkSync(`/proc/${name}/exe`) === bin) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const conduit = findConduit();

describe("the Conduit target", () => {
  test("starts from the binary, answers /versions, keeps no test user admin, and is gone after stop()", async (ctx) => {
    if (!conduit.bin) return ctx.skip(conduit.why);
    const reportDir = await tempDir("mc-conduit-");
    const progress: string[] = [];
    const { liveProcesses } = await import("../../harness/targets/process.ts");
    const before = new Set(liveProcesses());
    const d = await startTarget({ target: "conduit", conduitBin: conduit.bin, reportDir, cacheDir: await tempDir("mc-cache-"), onProgress: (l) => progress.push(l) });
    const supervisor = liveProcesses().find((p) => !before.has(p));
    let conduitPids: number[] = [];
    try {
      expect(supervisor, "the driver runs Conduit under the supervisor").toBeDefined();
      conduitPids = childrenRunning(supervisor!.pid, resolve(conduit.bin));
      if (existsSync("/proc")) expect(conduitPids, "one Conduit process under the supervisor").toHaveLength(1);
      expect(d.info.target).toBe("conduit");
      expect(d.info.serverName).toMatch(/^localhost:\d+$/);
      expect(d.info.baseUrl).toBe(`http://127.0.0.1:${d.info.serverName.split(":")[1]}`);
      expect(d.info.version).toBe(`Conduit ${CONDUIT_VERSION}`);
      expect(d.info.logFile).toBe(join(reportDir, "conduit.log"));
      expect(d.info.federation, "client-server only: no federation listener, so the federation suites skip").toBeUndefined();
      expect(d.info.registration.sharedSecret).toBeUndefined();

      const versions = await fetch(`${d.info.baseUrl}/_matrix/client/versions`);
      expect(versions.status).toBe(200);
      expect(((await versions.json()) as { versions?: unknown }).versions).toEqual(expect.arrayContaining(["v1.1"]));

      // The first-user admin grant went to the driver's throwaway user, which Conduit's log names.
      const log = await readFile(d.info.logFile!, "utf8");
      const granted = /Granting (@\S+) admin privileges/.exec(log)?.[1];
      expect(granted, `conduit.log names the user given admin rights:\n${log}`).toMatch(new RegExp(`^@conformance-first-[0-9a-f]+:${d.info.serverName}$`));
      expect(progress.some((l) => l.includes(granted!))).toBe(true);
      expect(log).not.toMatch(/\x1b\[/); // no ANSI colours in the kept log

      // A test user, registered as the suites do without a shared secret (m.login.dummy), is no
      // member of #admins, the room that carries Conduit's admin rights.
      const client = new MatrixClient({ baseUrl: d.info.baseUrl, log: new ExchangeLog() });
      const user = await registerUser(client, { sharedSecret: d.info.registration.sharedSecret });
      expect(user.userId).toMatch(new RegExp(`:${d.info.serverName}$`));
      const alias = await fetch(`${d.info.baseUrl}/_matrix/client/v3/directory/room/${encodeURIComponent(`#admins:${d.info.serverName}`)}`);
      expect(alias.status).toBe(200);
      const adminRoom = ((await alias.json()) as { room_id: string }).room_id;
      const joined = await fetch(`${d.info.baseUrl}/_matrix/client/v3/joined_rooms`, { headers: { authorization: `Bearer ${user.accessToken}` } });
      expect(joined.status).toBe(200);
      expect(((await joined.json()) as { joined_rooms: string[] }).joined_rooms, "the test user's rooms").not.toContain(adminRoom);
      expect(log).not.toContain(`Granting ${user.userId}`);
    } finally {
      await d.stop();
    }
    expect(await answers(`${d.info.baseUrl}/_matrix/client/versions`), "Conduit still answers after stop()").toBe(false);
    expect(alive(supervisor!.pid), "the supervisor outlived stop()").toBe(false);
    expect(conduitPids.filter(alive), "Conduit processes left after stop()").toEqual([]);
  });
});

describe("Conduit setup errors", () => {
  const config = async (conduitBin?: string) => ({ target: "conduit", conduitBin, reportDir: await tempDir("mc-conduit-"), cacheDir: await tempDir("mc-cache-") });

  /** A stand-in for conduit: answers --version like Conduit, then runs `body` as the server. */
  async function standIn(body: string): Promise<string> {
    const file = join(await tempDir("mc-fake-conduit-"), "conduit");
    await writeFile(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "conduit ${CONDUIT_VERSION}"; exit 0; fi\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  }

  test("no binary given is a setup error naming --conduit-bin and MATRIX_CONFORMANCE_CONDUIT_BIN", async () => {
    const saved = process.env.MATRIX_CONFORMANCE_CONDUIT_BIN;
    delete process.env.MATRIX_CONFORMANCE_CONDUIT_BIN;
    try {
      const err = await startTarget(await config()).catch((e) => e);
      expect(err).toBeInstanceOf(SetupError);
      expect(err.message).toContain("--conduit-bin PATH");
      expect(err.message).toContain("MATRIX_CONFORMANCE_CONDUIT_BIN");
    } finally {
      if (saved !== undefined) process.env.MATRIX_CONFORMANCE_CONDUIT_BIN = saved;
    }
  });

  test("a missing binary is a setup error naming the path", async () => {
    const missing = join(await tempDir("mc-nobin-"), "conduit");
    const err = await startTarget(await config(missing)).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain(`the Conduit binary ${missing} does not exist`);
    expect(err.message).toContain("--conduit-bin PATH");
  });

  test("a binary that is not executable is a setup error saying how to fix it", async () => {
    const file = await standIn("exit 0");
    await chmod(file, 0o644);
    const err = await startTarget(await config(file)).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain(`${file} is not executable`);
    expect(err.message).toContain(`chmod +x ${file}`);
  });

  test("a program that is not Conduit is refused by its --version", async () => {
    const file = join(await tempDir("mc-fake-conduit-"), "conduit");
    await writeFile(file, "#!/bin/sh\necho 'synapse 1.0'\n");
    await chmod(file, 0o755);
    const err = await startTarget(await config(file)).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("--version did not name a Conduit release");
    expect(err.message).toContain("synapse 1.0");
  });

  test("a server that exits before it is ready is a setup error with the exit code and the log's last lines", async () => {
    const file = await standIn('echo "cannot open the database at $CONDUIT_CONFIG" >&2; exit 3');
    const c = await config(file);
    const err = await startTarget(c).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("Conduit exited (code 3) before it became ready");
    expect(err.message).toMatch(/cannot open the database at \S+conduit\.toml/);
    expect(err.message).toContain(join(c.reportDir, "conduit.log"));
  });

  test("a server that never answers is a setup error after the bound, with the log, and is stopped", async () => {
    const { liveProcesses } = await import("../../harness/targets/process.ts");
    const file = await standIn('echo "listening nowhere"; exec sleep 60');
    const err = await startConduit(await config(file), { readyTimeoutMs: 1500 }).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("Conduit did not become ready within 1.5 s");
    expect(err.message).toContain("listening nowhere");
    expect(liveProcesses(), "the stand-in was stopped").toEqual([]);
  });
});

describe("Conduit config", () => {
  test("loopback only, SQLite in the run's data directory, open registration, no federation, the run's server name", () => {
    const toml = conduitConfig({ serverName: "localhost:1234", port: 1234, dataDir: '/tmp/x "y"' });
    expect(toml).toMatch(/^\[global\]$/m);
    expect(toml).toContain('server_name = "localhost:1234"');
    expect(toml).toContain('address = "127.0.0.1"');
    expect(toml).toContain("port = 1234");
    expect(toml).toContain('database_backend = "sqlite"');
    expect(toml).toContain('database_path = "/tmp/x \\"y\\""');
    expect(toml).toContain("allow_registration = true");
    expect(toml).toContain("allow_federation = false");
    expect(toml).not.toContain("registration_token");
  });
});
