// Identifier helpers the authorisation rules need: domains of user and event IDs, and the user-ID
// grammar for the "valid user IDs" checks.

/** The server-name part of a user ID or v1/v2 event ID: everything after the first ':'. */
export function domainOf(id: string): string | undefined {
  const colon = id.indexOf(":");
  return colon < 0 ? undefined : id.slice(colon + 1);
}

// https://spec.matrix.org/v1.19/appendices/#server-name
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const DNS = /^[0-9A-Za-z.-]{1,255}$/;

export function isServerName(name: string): boolean {
  let host = name;
  const portMatch = /:(\d{1,5})$/.exec(name);
  if (portMatch && !name.endsWith("]")) host = name.slice(0, portMatch.index);
  if (host.startsWith("[")) return IPV6.test(host);
  if (IPV4.test(host)) return host.split(".").every((part) => Number(part) <= 255);
  return DNS.test(host);
}

/**
 * Whether `id` is a user ID the rules accept. Servers must accept the historical grammar
 * (https://spec.matrix.org/v1.19/appendices/#historical-user-ids): `@`, a localpart of any code
 * points except `:` and NUL (possibly empty), `:`, a server name. Reading taken: this tolerant
 * grammar is what "valid user IDs" means in the power-levels and `additional_creators` rules; the
 * 255-byte length limit is not applied (old rooms hold longer IDs).
 */
export function isValidUserId(id: string): boolean {
  if (!id.startsWith("@")) return false;
  const colon = id.indexOf(":");
  if (colon < 0) return false;
  const localpart = id.slice(1, colon);
  if (localpart.includes("\u0000")) return false;
  if (/[\uD800-\uDFFF]/u.test(localpart)) return false; // lone surrogates are not code points
  return isServerName(id.slice(colon + 1));
}
