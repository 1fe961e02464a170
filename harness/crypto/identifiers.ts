// Reading the server name out of Matrix identifiers
// (https://spec.matrix.org/v1.19/appendices/#common-identifier-format).

import { CryptoError } from "./errors.ts";

/**
 * The domain of `@user:domain`, `!room:domain`, `$event:domain` or `#alias:domain`: everything
 * after the first colon (localparts never contain one; server names may, for the port).
 */
export function serverNameOf(id: string): string {
  const colon = id.indexOf(":");
  if (colon < 0 || colon === id.length - 1) {
    throw new CryptoError(`${JSON.stringify(id)} has no server name part`);
  }
  return id.slice(colon + 1);
}

/** A room version 1-2 event ID: `$opaque_id:domain` (https://spec.matrix.org/v1.19/rooms/v1/#event-ids). */
export function makeServerEventId(opaqueId: string, serverName: string): string {
  if (opaqueId.includes(":")) throw new CryptoError("an event ID's opaque part cannot contain \":\"");
  return `$${opaqueId}:${serverName}`;
}
