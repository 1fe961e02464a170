// Running server processes and their helpers: free ports, supervised start, readiness, log tails.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { SetupError } from "./types.ts";

const SUPERVISOR = fileURLToPath(new URL("./supervise.mjs", import.meta.url));

/** A free TCP port on loopback, as the kernel hands one out. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Fails with a clear message when something already listens on host:port. */
export async function assertPortFree(port: number, host = "127.0.0.1"): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) =>
      reject(new SetupError(err.code === "EADDRINUSE" ? `port ${port} on ${host} is already in use; stop what listens there or pick another port` : `cannot bind ${host}:${port}: ${err.message}`)),
    );
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

export interface CommandResult {
  code: number;
  output: string;
}

/** Runs a short command to completion, capturing its output (for installs and probes). */
export function runCommand(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === "ENOENT" ? new SetupError(`'${command}' was not found on PATH`) : err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

export interface ManagedProcess {
  pid: number;
  /** Settles when the server has exited, with its exit code. */
  exited: Promise<number>;
  hasExited(): boolean;
  /** Ends the server's whole process group, waiting at most `graceMs` before SIGKILL. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ManagedProcess>();

/**
 * Starts a server under the supervisor (harness/targets/supervise.mjs), its output appended to
 * `logFile`. When this process ends, however it ends, the supervisor's stdin closes and it takes
 * the server down with it.
 */
export function startSupervised(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string }): ManagedProcess {
  const sup: ChildProcess = spawn(process.execPath, [SUPERVISOR, opts.logFile, command, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["pipe", "ignore", "inherit"],
  });
  let done = false;
  const exited = new Promise<number>((resolve) => {
    sup.on("exit", (code) => {
      done = true;
      live.delete(proc);
      resolve(code ?? 1);
    });
  });
  const proc: ManagedProcess = {
    pid: sup.pid ?? -1,
    exited,
    hasExited: () => done,
    async stop(graceMs = 8000) {
      if (done) return;
      sup.stdin?.end();
      const timer = setTimeout(() => sup.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(proc);
  return proc;
}

/** Every server this process started and has not stopped yet. */
/** A deployment's stop: the steps run on the first call only, later calls wait for nothing. */
export function stopOnce(steps: () => Promise<void>): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    await steps();
  };
}

export function liveProcesses(): ManagedProcess[] {
  return [...live];
}

/** The last `n` lines of a log file, or a note that it could not be read. */
export async function tailLog(file: string, n = 50): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.trimEnd().split("\n").slice(-n).join("\n");
  } catch (err) {
    return `(could not read ${file}: ${(err as Error).message})`;
  }
}

/**
 * Polls `url` until it answers 200, the process exits, or the bound passes. Polling an explicit
 * readiness endpoint is the waiter here; each poll has its own short timeout.
 */
export async function waitForReady(url: string, proc: ManagedProcess, opts: { name: string; logFile: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastProblem = "no answer yet";
  while (Date.now() < deadline) {
    if (proc.hasExited()) {
      const code = await proc.exited;
      throw new SetupError(
        `${opts.name} exited (code ${code}) before it became ready.\n${hint(await tailLog(opts.logFile))}Last 50 lines of ${opts.logFile}:\n${await tailLog(opts.logFile)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      lastProblem = `status ${res.status}`;
    } catch (err) {
      lastProblem = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SetupError(
    `${opts.name} did not become ready within ${opts.timeoutMs / 1000} s (${url}: ${lastProblem}).\nLast 50 lines of ${opts.logFile}:\n${await tailLog(opts.logFile)}`,
  );
}

function hint(log: string): string {
  if (/address already in use|EADDRINUSE/i.test(log)) return "A port it needs is already in use.\n";
  return "";
}

/** "<name> <version>" from a server's /_matrix/federation/v1/version, when it answers there. */
export async function serverVersion(baseUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${baseUrl}/_matrix/federation/v1/version`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { server?: { name?: string; version?: string } };
    return [body.server?.name, body.server?.version].filter(Boolean).join(" ") || undefined;
  } catch {
    return undefined;
  }
}
