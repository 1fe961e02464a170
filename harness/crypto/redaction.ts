// The redaction algorithm of each room version (the rule sets are data in room-versions.ts):
// https://spec.matrix.org/v1.19/rooms/v1/#redactions, /v6/, /v8/, /v9/, /v11/#redactions.
//
// Readings chosen where the spec text leaves room (both match Synapse's prune_event_dict):
// - The result always has a `content` object: an absent or non-object `content` becomes `{}`
//   ("the content object must also be stripped of all keys").
// - A nested kept member (v11 `third_party_invite.signed`) is kept only when its parent is an
//   object; the parent is then kept with just the listed keys, so `{}` when they are absent.

import { cloneJson, getOwn, isPlainObject, setOwn, type JsonObject } from "./json.ts";
import { roomVersion, type ContentKeepTree, type RedactionRules, type RoomVersionLike } from "./room-versions.ts";

function keepTree(source: Record<string, unknown>, tree: ContentKeepTree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(tree)) {
    const rule = tree[key];
    const value = getOwn(source, key);
    if (rule === undefined || value === undefined) continue;
    if (rule === true) setOwn(out, key, cloneJson(value));
    else if (isPlainObject(value)) setOwn(out, key, keepTree(value, rule));
  }
  return out;
}

/** Applies one redaction rule set. */
export function redactWithRules(event: object, rules: RedactionRules): JsonObject {
  const out: Record<string, unknown> = {};
  for (const key of rules.keptTopLevelKeys) {
    const value = getOwn(event, key);
    if (value !== undefined) setOwn(out, key, cloneJson(value));
  }
  const type = getOwn(event, "type");
  const content = getOwn(event, "content");
  // Own lookup: an event type such as "constructor" must not find Object.prototype members.
  const keep = typeof type === "string" ? (getOwn(rules.keptContent, type) as "all" | ContentKeepTree | undefined) : undefined;
  let redactedContent: Record<string, unknown> = {};
  if (isPlainObject(content) && keep !== undefined) {
    redactedContent = keep === "all" ? cloneJson(content) : keepTree(content, keep);
  }
  setOwn(out, "content", redactedContent);
  return out as JsonObject;
}

/** The redacted copy of an event under the given room version's rules. */
export function redactEvent(event: object, version: RoomVersionLike): JsonObject {
  return redactWithRules(event, roomVersion(version).redaction);
}
