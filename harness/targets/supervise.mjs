// Supervisor for a server process: `node supervise.mjs LOGFILE COMMAND [ARGS...]`.
//
// It starts COMMAND in a process group of its own with its output appended to LOGFILE, and ends
// that whole group when any of these happens: its standard input closes (the harness that
// started it has stopped or died, even by SIGKILL), it receives SIGINT/SIGTERM/SIGHUP (Ctrl-C in
// the terminal reaches it too), or the server exits by itself (stray children are reaped). It
// exits with the server's exit code. Plain JavaScript, so it runs without a TypeScript loader.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";

const [logFile, command, ...args] = process.argv.slice(2);
if (!logFile || !command) {
  process.stderr.write("usage: node supervise.mjs LOGFILE COMMAND [ARGS...]\n");
  process.exit(2);
}
const out = openSync(logFile, "a");
const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out] });
const GRACE_MS = Number(process.env.MC_STOP_GRACE_MS ?? 5000);

function killGroup(signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  killGroup("SIGTERM");
  setTimeout(() => killGroup("SIGKILL"), GRACE_MS).unref();
}

child.on("error", (err) => {
  process.stderr.write(`cannot start ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  killGroup("SIGKILL");
  process.exit(code ?? (signal ? 128 + 15 : 1));
});
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, stop);
