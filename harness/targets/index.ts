// Target drivers: each turns a TargetConfig into a running Deployment. The one way to start a
// target, used by the CLI and by the suites' globalSetup alike.
import { startConduit } from "./conduit.ts";
import { startDendrite } from "./dendrite.ts";
import { connectExternal } from "./external.ts";
import { startSynapse } from "./synapse.ts";
import { SetupError, type Deployment, type TargetConfig } from "./types.ts";

export { SetupError, type Deployment, type DeploymentInfo, type TargetConfig } from "./types.ts";
export { defaultCacheDir } from "./cache.ts";
export { liveProcesses } from "./process.ts";
export { SYNAPSE_VERSION, provisionSynapse } from "./synapse.ts";
export { DENDRITE_VERSION, provisionDendrite } from "./dendrite.ts";
export { CONDUIT_VERSION } from "./conduit.ts";

export const TARGETS = ["synapse", "dendrite", "conduit", "external"] as const;

/** A target name as the CLI takes it: one of TARGETS, or image:NAME for a container image. */
export function isKnownTarget(name: string): boolean {
  return (TARGETS as readonly string[]).includes(name) || /^image:.+/.test(name);
}

export async function startTarget(config: TargetConfig): Promise<Deployment> {
  switch (config.target) {
    case "synapse":
      return startSynapse(config);
    case "dendrite":
      return startDendrite(config);
    case "conduit":
      return startConduit(config);
    case "external":
      return connectExternal(config);
    default:
      // Loaded on demand: testcontainers is only needed by image targets.
      if (/^image:.+/.test(config.target)) return (await import("./image.ts")).startImage(config);
      throw new SetupError(`unknown target '${config.target}'; choose one of: ${TARGETS.join(", ")}, or image:NAME`);
  }
}
