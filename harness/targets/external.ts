// The external target: a homeserver someone already runs. The harness neither starts nor stops it;
// it checks that it answers and learns what it can about it.
import { serverVersion } from "./process.ts";
import { SetupError, type Deployment, type TargetConfig } from "./types.ts";

export async function connectExternal(config: TargetConfig): Promise<Deployment> {
  if (!config.serverUrl || !config.serverName) {
    throw new SetupError("the external target needs --server-url URL and --server-name NAME (and --shared-secret S unless the server allows open registration)");
  }
  let url: URL;
  try {
    url = new URL(config.serverUrl);
  } catch {
    throw new SetupError(`--server-url '${config.serverUrl}' is not a URL (expected e.g. http://127.0.0.1:8008)`);
  }
  const baseUrl = url.toString().replace(/\/+$/, "");
  try {
    const res = await fetch(`${baseUrl}/_matrix/client/versions`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new SetupError(`${baseUrl}/_matrix/client/versions answered ${res.status}; is this the client-server API base URL?`);
  } catch (err) {
    if (err instanceof SetupError) throw err;
    throw new SetupError(`cannot reach ${baseUrl}/_matrix/client/versions: ${(err as Error).message}`);
  }
  return {
    info: {
      target: "external",
      serverName: config.serverName,
      baseUrl,
      version: await serverVersion(baseUrl),
      registration: { sharedSecret: config.sharedSecret },
    },
    stop: async () => {},
  };
}

