// Building Go programs from the Go module proxy with the user's own `go`: `go install
// MODULE/cmd/X@VERSION` into a directory of the provisioning cache. Only released module versions
// are built; no source is fetched or kept by the harness itself. Go's own caches stay where the
// user's Go keeps them (`go env GOMODCACHE`, `go env GOCACHE`), so a rebuild after the cache
// directory was removed takes seconds, and other Go work on the machine shares them.
import { readSetting } from "../settings.ts";
import { runCommand, type CommandResult } from "./process.ts";
import { SetupError } from "./types.ts";

export interface GoToolchain {
  /** The go command (a name on PATH or a path). */
  command: string;
  /** "go1.26.8" */
  version: string;
}

/** The Go toolchain: MATRIX_CONFORMANCE_GO, or `go` on PATH. */
export async function findGo(what: string, env: NodeJS.ProcessEnv = process.env): Promise<GoToolchain> {
  const explicit = readSetting("go", env);
  const command = explicit || "go";
  let res: CommandResult | undefined;
  try {
    res = await runCommand(command, ["env", "GOVERSION"], { env, timeoutMs: 60_000 });
  } catch {
    res = undefined;
  }
  if (!res || res.code !== 0) {
    throw new SetupError(
      (explicit ? `MATRIX_CONFORMANCE_GO is set to '${explicit}', which does not run as the go command.` : `'go' was not found on PATH.`) +
        ` The ${what} is built once from the Go module proxy with 'go install' and kept in the cache.\n` +
        `Install Go >= 1.21 and a C compiler (Debian/Ubuntu: apt-get install golang-go gcc; or see https://go.dev/doc/install), ` +
        `put 'go' on PATH or set MATRIX_CONFORMANCE_GO to its path, and run again.` +
        (res ? `\n${res.output.trim()}` : ""),
    );
  }
  return { command, version: res.output.trim() };
}

export interface GoInstallOptions {
  /** Module path, e.g. github.com/matrix-org/dendrite */
  module: string;
  /** Module version, e.g. v0.13.8 */
  version: string;
  /** Package paths inside the module, e.g. ["cmd/dendrite"] */
  packages: string[];
  /** Where the binaries go (GOBIN). */
  binDir: string;
  /** A name for messages ("Dendrite v0.13.8"). */
  what: string;
  cgo?: boolean;
  timeoutMs?: number;
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `go install MODULE/PKG@VERSION ...` with GOBIN=binDir. If the link step fails on a
 * restricted go:linkname (Go >= 1.23 with older dependencies), it builds again with
 * `-ldflags=-checklinkname=0`. Failures become SetupErrors with the end of Go's output and a hint.
 */
export async function goInstall(go: GoToolchain, opts: GoInstallOptions): Promise<{ ldflags: string[]; seconds: number }> {
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env), GOBIN: opts.binDir, CGO_ENABLED: opts.cgo ? "1" : "0" };
  // A VCS stamp needs a checkout; module builds have none. Keep what the user set besides.
  if (!/-buildvcs/.test(env.GOFLAGS ?? "")) env.GOFLAGS = `${env.GOFLAGS ?? ""} -buildvcs=false`.trim();
  const targets = opts.packages.map((p) => `${opts.module}/${p}@${opts.version}`);
  const started = Date.now();
  const ticker = setInterval(() => opts.onProgress?.(`still building ${opts.what} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    let ldflags: string[] = [];
    let res = await runCommand(go.command, ["install", ...targets], { env, timeoutMs: opts.timeoutMs ?? 45 * 60_000 });
    if (res.code !== 0 && /linkname|invalid reference to/i.test(res.output)) {
      opts.onProgress?.(`linking ${opts.what} hit Go's go:linkname restriction; building again with -ldflags=-checklinkname=0`);
      ldflags = ["-ldflags=-checklinkname=0"];
      res = await runCommand(go.command, ["install", ...ldflags, ...targets], { env, timeoutMs: opts.timeoutMs ?? 45 * 60_000 });
    }
    if (res.code !== 0) {
      throw new SetupError(
        `'go install' could not build ${opts.what} (exit ${res.code}, ${go.version}).\n${goHint(res.output)}` +
          `Command: GOBIN=${opts.binDir} CGO_ENABLED=${env.CGO_ENABLED} ${go.command} install ${[...ldflags, ...targets].join(" ")}\n` +
          `Last lines of its output:\n${res.output.trim().split("\n").slice(-25).join("\n")}`,
      );
    }
    return { ldflags, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    clearInterval(ticker);
  }
}

function goHint(output: string): string {
  if (/C compiler|"gcc": executable file not found|cgo: .*not found/i.test(output)) {
    return "cgo needs a C compiler for the SQLite driver: install gcc (Debian/Ubuntu: apt-get install gcc).\n";
  }
  if (/requires go >=|toolchain|go\.mod requires/i.test(output)) return "This Go is too old for the module: install a newer Go.\n";
  if (/dial tcp|no such host|i\/o timeout|connection refused|TLS handshake|proxyconnect|403 Forbidden|404 Not Found|410 Gone/i.test(output)) {
    return "Go could not download the module: check that the Go module proxy (GOPROXY) is reachable and that the version exists.\n";
  }
  if (/signal: killed|out of memory|cannot allocate memory/i.test(output)) return "The build was killed, probably for lack of memory.\n";
  return "";
}
