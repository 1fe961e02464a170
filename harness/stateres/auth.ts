// The authorisation rules of room versions 1-12.
//
// Sources, one list per group of versions:
//   v1-v2  https://spec.matrix.org/v1.19/rooms/v1/#authorisation-rules
//   v3-v5  https://spec.matrix.org/v1.19/rooms/v3/#authorisation-rules
//   v6     https://spec.matrix.org/v1.19/rooms/v6/#authorisation-rules   (aliases rule gone, notifications)
//   v7     https://spec.matrix.org/v1.19/rooms/v7/#authorisation-rules   (knock)
//   v8-v9  https://spec.matrix.org/v1.19/rooms/v8/#authorisation-rules   (restricted)
//   v10    https://spec.matrix.org/v1.19/rooms/v10/#authorisation-rules  (integer levels, knock_restricted)
//   v11    https://spec.matrix.org/v1.19/rooms/v11/#authorisation-rules  (creator = create sender)
//   v12    https://spec.matrix.org/v1.19/rooms/v12/#authorisation-rules  (creators, no create in auth_events)
// Versions differ only through the flags of the room-version table (harness/crypto/room-versions.ts, `auth`). Rule names in decisions are descriptive
// ("member.join.banned") because the numbering moves between versions.
//
// The rules split in two, as implementations split them:
//   - checkAuthEventsList: the rule "Considering the event's auth_events" (duplicates, selection,
//     rejected entries, the create event, room IDs). It looks at the event's own auth_events list,
//     so it only makes sense on receipt (https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu, step 4).
//   - checkAuthRules: every other rule, against "the room state": either the event's auth events
//     (receipt step 4), the state before it (step 5), or the partially resolved state of the
//     iterative auth checks. The create rule needs no state and is checked here too.
//
// Not modelled (each is "taken as given"): signatures and hashes of events, including the
// signature check on `join_authorised_via_users_server`; the event format checks of receipt
// step 1. Room IDs are compared only where events carry a `room_id`.

import { domainOf, isValidUserId } from "./ids.ts";
import {
  isObject,
  namedLevel,
  parseLevel,
  primaryCreator,
  requiredLevel,
  roomCreators,
  userLevel,
} from "./power.ts";
import { authEventKeys } from "./selection.ts";
import { thirdPartyInviteKeys, verifySignedObject } from "./signatures.ts";
import { T, stateKey, type Pdu } from "./types.ts";
import { isKnownRoomVersion, type RoomVersionRules } from "../crypto/index.ts";

export interface AuthDecision {
  readonly allowed: boolean;
  /** Which rule decided, e.g. "member.ban.level". */
  readonly rule: string;
  readonly reason: string;
}

/** The room state an event is checked against. */
export interface AuthState {
  get(type: string, stateKey: string): Pdu | undefined;
}

export interface AuthOptions {
  readonly rules: RoomVersionRules;
  /**
   * Room v12: the room's create event, which the room ID names (the model takes that relation as
   * given). Ignored before v12, where the create event comes from the state.
   */
  readonly roomCreate?: Pdu | undefined;
  /** Override for the third-party-invite signature check (default: real ed25519 verification). */
  readonly verifyThirdPartySignature?: (signed: Record<string, unknown>, publicKeys: readonly string[]) => boolean;
}

const allow = (rule: string, reason: string): AuthDecision => ({ allowed: true, rule, reason });
const reject = (rule: string, reason: string): AuthDecision => ({ allowed: false, rule, reason });

/** A state built from a list of events (the last one per key wins). */
export function stateOf(events: Iterable<Pdu>): AuthState {
  const map = new Map<string, Pdu>();
  for (const e of events) if (e.state_key !== undefined) map.set(stateKey(e.type, e.state_key), e);
  return { get: (type, key) => map.get(stateKey(type, key)) };
}

/**
 * The rule "Considering the event's auth_events" of every version. `authEvents` are the events
 * the IDs in `event.auth_events` name, in order. `isRejected` says which were rejected.
 */
export function checkAuthEventsList(
  event: Pdu,
  authEvents: readonly Pdu[],
  rules: RoomVersionRules,
  isRejected: (eventId: string) => boolean = () => false,
): AuthDecision {
  if (event.type === T.create && event.state_key === "") {
    return authEvents.length === 0
      ? allow("auth_events.create", "a create event has no auth events")
      : reject("auth_events.create", "a create event must have no auth events");
  }
  const allowedKeys = new Set(authEventKeys(event, rules).map((k) => stateKey(k.type, k.stateKey)));
  const seen = new Set<string>();
  let sawCreate = false;
  for (const a of authEvents) {
    if (a.state_key === undefined) return reject("auth_events.selection", `auth event ${a.event_id} is not a state event`);
    const key = stateKey(a.type, a.state_key);
    if (seen.has(key)) return reject("auth_events.duplicate", `two auth events for (${a.type}, ${a.state_key})`);
    seen.add(key);
    if (!allowedKeys.has(key)) {
      return reject("auth_events.selection", `auth event ${a.event_id} (${a.type}, ${a.state_key}) is not one the selection rules name`);
    }
    if (isRejected(a.event_id)) return reject("auth_events.rejected", `auth event ${a.event_id} was rejected`);
    if (a.type === T.create && a.state_key === "") sawCreate = true;
    if (event.room_id !== undefined && a.room_id !== undefined && a.room_id !== event.room_id) {
      return reject("auth_events.room_id", `auth event ${a.event_id} belongs to room ${a.room_id}`);
    }
  }
  if (rules.auth.createInAuthEvents && !sawCreate) return reject("auth_events.no_create", "no m.room.create event among the auth events");
  return allow("auth_events", "auth events are well formed");
}

/** Every authorisation rule except the auth_events-list rule, against `state`. */
export function checkAuthRules(event: Pdu, state: AuthState, options: AuthOptions): AuthDecision {
  const { rules } = options;

  if (event.type === T.create && event.state_key === "") return checkCreate(event, rules);

  const create = rules.auth.createInAuthEvents ? state.get(T.create, "") : options.roomCreate;
  if (!create) return reject("create.missing", "the room has no m.room.create event to check against");
  if (rules.format.roomIdFormat === "create-event-reference-hash" && event.room_id !== undefined && event.room_id !== `!${create.event_id.slice(1)}`) {
    return reject("room_id.create", `room ID ${event.room_id} is not derived from create event ${create.event_id}`);
  }

  if (create.content["m.federate"] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return reject("federate", "the room is not federated and the sender is on another server");
  }

  if (rules.auth.aliasesRule && event.type === T.aliases) {
    if (event.state_key === undefined) return reject("aliases.state_key", "m.room.aliases without a state key");
    if (domainOf(event.sender) !== event.state_key) return reject("aliases.domain", "sender's domain is not the state key");
    return allow("aliases", "sender's domain matches the state key");
  }

  if (event.type === T.member) return checkMembership(event, state, create, options);

  const pl = state.get(T.powerLevels, "");
  const senderMembership = membershipOf(state, event.sender);
  if (senderMembership !== "join") return reject("sender.joined", `sender's membership is ${senderMembership}, not join`);
  const senderLevel = userLevel(event.sender, pl, create, rules);

  if (event.type === T.thirdPartyInvite) {
    const inviteLevel = namedLevel(pl, "invite", rules);
    return senderLevel >= inviteLevel
      ? allow("third_party_invite", "sender may invite")
      : reject("third_party_invite", `sender level ${senderLevel} < invite level ${inviteLevel}`);
  }

  const needed = requiredLevel(event.type, event.state_key !== undefined, pl, rules);
  if (needed > senderLevel) return reject("event.level", `sender level ${senderLevel} < required level ${needed}`);

  if (event.state_key !== undefined && event.state_key.startsWith("@") && event.state_key !== event.sender) {
    return reject("state_key.user", "state key names another user");
  }

  if (event.type === T.powerLevels && event.state_key === "") return checkPowerLevels(event, pl, create, senderLevel, rules);

  if (rules.auth.redactionRule && event.type === T.redaction) {
    if (senderLevel >= namedLevel(pl, "redact", rules)) return allow("redaction.level", "sender has the redact level");
    const target = event.redacts;
    if (target !== undefined && domainOf(target) !== undefined && domainOf(target) === domainOf(event.event_id)) {
      return allow("redaction.domain", "redacted event comes from the redaction's server");
    }
    return reject("redaction", "sender lacks the redact level and the redacted event is from another server");
  }

  return allow("default", "no rule rejects the event");
}

function checkCreate(event: Pdu, rules: RoomVersionRules): AuthDecision {
  if (event.prev_events.length > 0) return reject("create.prev_events", "a create event has prev events");
  if (rules.format.roomIdFormat === "create-event-reference-hash") {
    if (event.room_id !== undefined) return reject("create.room_id", "a v12 create event must not have a room_id");
  } else if (event.room_id !== undefined && domainOf(event.room_id) !== domainOf(event.sender)) {
    return reject("create.room_id", "the room ID's domain is not the sender's domain");
  }
  const version = event.content["room_version"];
  if (version !== undefined && (typeof version !== "string" || !isKnownRoomVersion(version))) {
    return reject("create.room_version", `room_version ${JSON.stringify(version)} is not a recognised version`);
  }
  if (rules.auth.createRequiresCreator && !Object.hasOwn(event.content, "creator")) {
    return reject("create.creator", "content has no creator");
  }
  if (rules.auth.infiniteCreatorPower && Object.hasOwn(event.content, "additional_creators")) {
    const extra = event.content["additional_creators"];
    if (!Array.isArray(extra) || !extra.every((u) => typeof u === "string" && isValidUserId(u))) {
      return reject("create.additional_creators", "additional_creators is not an array of user IDs");
    }
  }
  return allow("create", "create event");
}

/** The membership of `user` in `state`; "leave" when there is no member event. */
function membershipOf(state: AuthState, user: string): string {
  const m = state.get(T.member, user)?.content["membership"];
  return typeof m === "string" ? m : "leave";
}

function checkMembership(event: Pdu, state: AuthState, create: Pdu, options: AuthOptions): AuthDecision {
  const { rules } = options;
  const target = event.state_key;
  const membership = event.content["membership"];
  if (target === undefined || !Object.hasOwn(event.content, "membership")) {
    return reject("member.shape", "member event without state_key or membership");
  }
  // join_authorised_via_users_server: its signature check is out of scope (signatures are given).

  const pl = state.get(T.powerLevels, "");
  const joinRuleValue = state.get(T.joinRules, "")?.content["join_rule"];
  const joinRule = typeof joinRuleValue === "string" ? joinRuleValue : undefined;
  const senderMembership = membershipOf(state, event.sender);
  const targetMembership = membershipOf(state, target);
  const senderLevel = (): number => userLevel(event.sender, pl, create, rules);
  const targetLevel = (): number => userLevel(target, pl, create, rules);

  switch (membership) {
    case "join": {
      // "If the only previous event is an m.room.create and the state_key is the creator, allow."
      // Reading taken: exactly one prev event, and it is the room's create event.
      if (event.prev_events.length === 1 && event.prev_events[0] === create.event_id && target === primaryCreator(create, rules)) {
        return allow("member.join.creator", "the creator's first join");
      }
      if (event.sender !== target) return reject("member.join.sender", "sender joins someone else");
      if (senderMembership === "ban") return reject("member.join.banned", "sender is banned");
      // Reading taken: with no m.room.join_rules event there is no join rule, so only the creator
      // rule above or a matching rule below can allow the join; none matches, so it is rejected.
      if (joinRule === "invite" || (rules.auth.knock && joinRule === "knock")) {
        return targetMembership === "invite" || targetMembership === "join"
          ? allow("member.join.invited", `join rule ${joinRule} and membership ${targetMembership}`)
          : reject("member.join.invited", `join rule ${joinRule} needs an invite`);
      }
      if (rules.auth.restricted && (joinRule === "restricted" || (rules.auth.knockRestricted && joinRule === "knock_restricted"))) {
        if (targetMembership === "join" || targetMembership === "invite") {
          return allow("member.join.restricted", `membership ${targetMembership}`);
        }
        const via = event.content["join_authorised_via_users_server"];
        if (typeof via !== "string") return reject("member.join.restricted", "no join_authorised_via_users_server");
        if (membershipOf(state, via) !== "join") return reject("member.join.restricted", "authorising user is not joined");
        if (userLevel(via, pl, create, rules) < namedLevel(pl, "invite", rules)) {
          return reject("member.join.restricted", "authorising user may not invite");
        }
        return allow("member.join.restricted", "authorised by a joined user who may invite");
      }
      if (joinRule === "public") return allow("member.join.public", "public room");
      return reject("member.join.rule", `join rule ${joinRule ?? "(none)"} does not allow joining`);
    }
    case "invite": {
      if (Object.hasOwn(event.content, "third_party_invite")) {
        if (targetMembership === "ban") return reject("member.invite.3pid.banned", "target is banned");
        const tpi = event.content["third_party_invite"];
        const signed = isObject(tpi) ? tpi["signed"] : undefined;
        if (!isObject(signed)) return reject("member.invite.3pid.signed", "third_party_invite has no signed object");
        const mxid = signed["mxid"];
        const token = signed["token"];
        if (typeof mxid !== "string" || typeof token !== "string") {
          return reject("member.invite.3pid.signed", "signed lacks mxid or token");
        }
        if (mxid !== target) return reject("member.invite.3pid.mxid", "mxid does not match the state key");
        const invite = state.get(T.thirdPartyInvite, token);
        if (!invite) return reject("member.invite.3pid.token", "no m.room.third_party_invite for the token");
        if (invite.sender !== event.sender) return reject("member.invite.3pid.sender", "sender did not send the third-party invite");
        const verify = options.verifyThirdPartySignature ?? verifySignedObject;
        return verify(signed, thirdPartyInviteKeys(invite.content))
          ? allow("member.invite.3pid", "signature matches a public key")
          : reject("member.invite.3pid.signature", "no signature matches a public key");
      }
      if (senderMembership !== "join") return reject("member.invite.sender", "sender is not joined");
      if (targetMembership === "join" || targetMembership === "ban") {
        return reject("member.invite.target", `target's membership is ${targetMembership}`);
      }
      const inviteLevel = namedLevel(pl, "invite", rules);
      return senderLevel() >= inviteLevel
        ? allow("member.invite.level", "sender may invite")
        : reject("member.invite.level", `sender level ${senderLevel()} < invite level ${inviteLevel}`);
    }
    case "leave": {
      if (event.sender === target) {
        const ok = targetMembership === "invite" || targetMembership === "join" || (rules.auth.knock && targetMembership === "knock");
        return ok
          ? allow("member.leave.self", `leaving from ${targetMembership}`)
          : reject("member.leave.self", `cannot leave from ${targetMembership}`);
      }
      if (senderMembership !== "join") return reject("member.leave.sender", "sender is not joined");
      if (targetMembership === "ban" && senderLevel() < namedLevel(pl, "ban", rules)) {
        return reject("member.leave.unban", "sender may not unban");
      }
      return senderLevel() >= namedLevel(pl, "kick", rules) && targetLevel() < senderLevel()
        ? allow("member.leave.kick", "sender may kick the target")
        : reject("member.leave.kick", "sender may not kick the target");
    }
    case "ban": {
      if (senderMembership !== "join") return reject("member.ban.sender", "sender is not joined");
      return senderLevel() >= namedLevel(pl, "ban", rules) && targetLevel() < senderLevel()
        ? allow("member.ban.level", "sender may ban the target")
        : reject("member.ban.level", "sender may not ban the target");
    }
    case "knock": {
      if (!rules.auth.knock) break;
      if (joinRule !== "knock" && !(rules.auth.knockRestricted && joinRule === "knock_restricted")) {
        return reject("member.knock.rule", `join rule ${joinRule ?? "(none)"} does not allow knocking`);
      }
      if (event.sender !== target) return reject("member.knock.sender", "sender knocks for someone else");
      return senderMembership !== "ban" && senderMembership !== "invite" && senderMembership !== "join"
        ? allow("member.knock", "knock")
        : reject("member.knock.membership", `cannot knock from ${senderMembership}`);
    }
  }
  return reject("member.unknown", `unknown membership ${JSON.stringify(membership)}`);
}

const NAMED_LEVELS = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"] as const;

function checkPowerLevels(
  event: Pdu,
  current: Pdu | undefined,
  create: Pdu,
  senderLevel: number,
  rules: RoomVersionRules,
): AuthDecision {
  const content = event.content;
  if (rules.auth.integerPowerLevels) {
    for (const name of NAMED_LEVELS) {
      if (Object.hasOwn(content, name) && !Number.isInteger(content[name])) {
        return reject("power_levels.integer", `${name} is not an integer`);
      }
    }
    for (const name of ["events", "notifications"]) {
      if (!Object.hasOwn(content, name)) continue;
      const map = content[name];
      if (!isObject(map) || !Object.values(map).every((v) => Number.isInteger(v))) {
        return reject("power_levels.integer", `${name} is not an object of integers`);
      }
    }
  }
  // Reading taken: an absent `users` property is an empty object (the rule rejects a `users`
  // that is present but not an object of user IDs to levels).
  const users = Object.hasOwn(content, "users") ? content["users"] : {};
  if (!isObject(users)) return reject("power_levels.users", "users is not an object");
  for (const [user, level] of Object.entries(users)) {
    if (!isValidUserId(user)) return reject("power_levels.users", `${JSON.stringify(user)} is not a user ID`);
    const ok = rules.auth.integerPowerLevels ? Number.isInteger(level) : parseLevel(level, rules) !== undefined;
    if (!ok) return reject("power_levels.users", `level of ${user} is not an integer`);
  }
  if (rules.auth.infiniteCreatorPower) {
    for (const creator of roomCreators(create, rules)) {
      if (Object.hasOwn(users, creator)) return reject("power_levels.creators", `room creator ${creator} is listed in users`);
    }
  }
  if (!current) return allow("power_levels.first", "first power levels event");

  const level = (v: unknown): number | undefined => parseLevel(v, rules);
  const old = current.content;
  for (const name of NAMED_LEVELS) {
    const before = Object.hasOwn(old, name) ? level(old[name]) : undefined;
    const after = Object.hasOwn(content, name) ? level(content[name]) : undefined;
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) return reject("power_levels.named", `current ${name} ${before} is above the sender`);
    if (after !== undefined && after > senderLevel) return reject("power_levels.named", `new ${name} ${after} is above the sender`);
  }
  const maps = rules.auth.notificationsInPowerLevels ? ["events", "notifications"] : ["events"];
  for (const name of maps) {
    const decision = compareLevelMaps(old[name], content[name], level, (key, before, after) => {
      if (before !== undefined && before > senderLevel) return `current ${name}.${key} ${before} is above the sender`;
      if (after !== undefined && after > senderLevel) return `new ${name}.${key} ${after} is above the sender`;
      return undefined;
    });
    if (decision) return reject(`power_levels.${name}`, decision);
  }
  const usersDecision = compareLevelMaps(old["users"], users, level, (user, before, after) => {
    if (user !== event.sender && before !== undefined && before >= senderLevel) {
      return `cannot change ${user}, whose level ${before} is not below the sender's`;
    }
    if (after !== undefined && after > senderLevel) return `new level ${after} of ${user} is above the sender`;
    return undefined;
  });
  if (usersDecision) return reject("power_levels.users_change", usersDecision);
  return allow("power_levels", "every change is within the sender's power");
}

/** Calls `check` for each key added, changed or removed between two level maps. */
function compareLevelMaps(
  before: unknown,
  after: unknown,
  level: (v: unknown) => number | undefined,
  check: (key: string, before: number | undefined, after: number | undefined) => string | undefined,
): string | undefined {
  const a = isObject(before) ? before : {};
  const b = isObject(after) ? after : {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = Object.hasOwn(a, key) ? level(a[key]) : undefined;
    const y = Object.hasOwn(b, key) ? level(b[key]) : undefined;
    if (x === y) continue;
    const problem = check(key, x, y);
    if (problem) return problem;
  }
  return undefined;
}
