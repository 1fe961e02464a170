import type { RunCa } from "../federation/tls.ts";

// What a target driver hands the rest of the harness. `DeploymentInfo` is plain JSON so that it can
// cross from the process that starts the server to the vitest workers that test it.

export interface DeploymentInfo {
  /** Driver name: "synapse", "external", ... */
  target: string;
  serverName: string;
  /** Client-server API base URL, without a trailing slash. */
  baseUrl: string;
  /** The server's own version string, when it can be known. */
  version?: string;
  /** Where the server's log is written, when the harness runs it. */
  logFile?: string;
  /** How tests get users: shared-secret admin registration, or open registration with m.login.dummy. */
  registration: { sharedSecret?: string };
  /**
   * Present when the target federates with the suite's fake peers: its federation base URL
   * (HTTPS, certificate from the run's CA) and the fact that it trusts the run's CA for its own
   * outbound requests.
   */
  federation?: { url: string };
}

export interface Deployment {
  info: DeploymentInfo;
  /** Stops the server and everything it started. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface TargetConfig {
  target: string;
  /** Directory for this run's output (report, target log). */
  reportDir: string;
  /** Root of the provisioning cache (venvs, builds). */
  cacheDir: string;
  /** external */
  serverUrl?: string;
  serverName?: string;
  sharedSecret?: string;
  /** synapse: the PyPI version to install; defaults to the validated pin. */
  synapseVersion?: string;
  /** dendrite: the matrix-org/dendrite module version to build (vX.Y.Z); defaults to the validated pin. */
  dendriteVersion?: string;
  /** conduit: the path of the `conduit` binary to run (the user builds it; no registry has it). */
  conduitBin?: string;
  /** The run's CA: when given, the target serves federation over TLS with a certificate from it
   * and trusts it for outbound federation, so the suite's fake peers can talk to it. */
  ca?: RunCa;
  /** image target: the engine's network for the container ("bridge" with mapped ports, or "host"). */
  containerNetwork?: "bridge" | "host";
  /** Keep the data directory after the run (for debugging a server). */
  keepData?: boolean;
  /** Progress lines for the terminal (provisioning, starting). */
  onProgress?: (line: string) => void;
}

/**
 * A run could not happen: a missing prerequisite, a failed install, a server that died or never
 * became ready. The message is for a person and is shown without a stack trace.
 */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}
