// The authorisation rules of room versions 1-12 at their boundaries: one table of cases, each
// naming the versions it holds for. https://spec.matrix.org/v1.19/rooms/ (authorisation rules of
// each version).

import { describe, expect, test } from "vitest";
import {
  CREATOR_POWER,
  checkAuthEventsList,
  checkAuthRules,
  parseLevel,
  stateOf,
  userLevel,
  type Pdu,
} from "../../harness/stateres/index.ts";
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  EVE,
  OTHER_SECRET,
  TPI_PUBLIC_KEY,
  createEvent,
  member,
  pdu,
  rulesOf,
  signedInvite,
  versions,
} from "./helpers.ts";

interface Base {
  create: Pdu;
  pl: Pdu;
}

interface Setup {
  /** join_rule of the base state's m.room.join_rules; null: no such event. Default "public". */
  joinRule?: string | null;
  /** Extra top-level power-levels content. */
  pl?: Record<string, unknown>;
  /** Replaces the `users` of the power levels. */
  plUsers?: (v: number) => Record<string, unknown>;
  /** Extra state, applied after the base (later entries replace earlier ones). */
  extra?: (v: number, base: Base) => Pdu[];
  create?: (v: number) => Pdu;
}

interface Case {
  name: string;
  versions: string;
  setup?: Setup;
  event: (v: number, base: Base) => Pdu;
  allowed: boolean;
  /** The rule expected to decide (prefix match), to pin the reason too. */
  rule?: string;
}

function build(v: number, setup: Setup = {}): { events: Pdu[]; base: Base } {
  const create = setup.create ? setup.create(v) : createEvent(v);
  const users = setup.plUsers ? setup.plUsers(v) : v >= 12 ? { [BOB]: 50 } : { [ALICE]: 100, [BOB]: 50 };
  const pl = pdu({ event_id: "$pl:example.com", type: "m.room.power_levels", state_key: "", sender: ALICE, content: { users, ...setup.pl } });
  const events: Pdu[] = [create, member(ALICE, ALICE, "join"), pl, member(BOB, BOB, "join"), member(CAROL, CAROL, "join")];
  const joinRule = setup.joinRule === undefined ? "public" : setup.joinRule;
  if (joinRule !== null) events.push(pdu({ type: "m.room.join_rules", state_key: "", sender: ALICE, content: { join_rule: joinRule } }));
  const base = { create, pl };
  events.push(...(setup.extra?.(v, base) ?? []));
  return { events, base };
}

const tpiEvent = (sender = ALICE, token = "tok"): Pdu =>
  pdu({ type: "m.room.third_party_invite", state_key: token, sender, content: { display_name: "d", public_key: TPI_PUBLIC_KEY } });
const tpInvite = (sender: string, target: string, signed: Record<string, unknown>): Pdu =>
  pdu({ type: "m.room.member", sender, state_key: target, content: { membership: "invite", third_party_invite: { display_name: "d", signed } } });
const plEvent = (sender: string, content: Record<string, unknown>): Pdu =>
  pdu({ type: "m.room.power_levels", state_key: "", sender, content });
const adminUsers = (v: number, more: Record<string, unknown> = {}): Record<string, unknown> =>
  v >= 12 ? { [BOB]: 50, ...more } : { [ALICE]: 100, [BOB]: 50, ...more };

const cases: Case[] = [
  // --- m.room.create ---------------------------------------------------------------------------
  { name: "create: allowed", versions: "1-12", event: (v) => createEvent(v, ALICE, { event_id: "$c2:example.com" }), allowed: true },
  { name: "create: prev_events reject", versions: "1-12", event: (v) => createEvent(v, ALICE, { prev_events: ["$x"] }), allowed: false, rule: "create.prev_events" },
  {
    name: "create: unknown room_version reject",
    versions: "1-12",
    event: (v) => pdu({ type: "m.room.create", state_key: "", sender: ALICE, content: { creator: ALICE, room_version: "99" } }),
    allowed: false,
    rule: "create.room_version",
  },
  {
    name: "create: no creator rejected while creator is required",
    versions: "1-10",
    event: () => pdu({ type: "m.room.create", state_key: "", sender: ALICE, content: {} }),
    allowed: false,
    rule: "create.creator",
  },
  {
    name: "create: no creator fine from v11",
    versions: "11-12",
    event: () => pdu({ type: "m.room.create", state_key: "", sender: ALICE, content: {} }),
    allowed: true,
  },
  {
    name: "create: room_id on another domain",
    versions: "1-11",
    event: (v) => createEvent(v, ALICE, { room_id: "!r:example.org" }),
    allowed: false,
    rule: "create.room_id",
  },
  { name: "create: v12 create with a room_id", versions: "12", event: (v) => createEvent(v, ALICE, { room_id: "!r:example.com" }), allowed: false, rule: "create.room_id" },
  {
    name: "create: v12 additional_creators must be user IDs",
    versions: "12",
    event: () => pdu({ type: "m.room.create", state_key: "", sender: ALICE, content: { additional_creators: ["not-a-user"] } }),
    allowed: false,
    rule: "create.additional_creators",
  },
  {
    name: "create: additional_creators ignored before v12",
    versions: "11",
    event: () => pdu({ type: "m.room.create", state_key: "", sender: ALICE, content: { additional_creators: ["not-a-user"] } }),
    allowed: true,
  },
  {
    name: "create: v12 valid additional_creators",
    versions: "12",
    event: () => pdu({ type: "m.room.create", state_key: "", sender: ALICE, content: { additional_creators: [BOB, "@old name:example.com"] } }),
    allowed: true,
  },

  // --- m.federate --------------------------------------------------------------------------------
  {
    name: "m.federate false: other server rejected",
    versions: "1-12",
    setup: { create: (v) => createEvent(v, ALICE, { content: { ...createEvent(v).content, "m.federate": false } }) },
    event: () => member(DAVE, DAVE, "join"),
    allowed: false,
    rule: "federate",
  },
  {
    name: "m.federate false: same server fine",
    versions: "1-12",
    setup: { create: (v) => createEvent(v, ALICE, { content: { ...createEvent(v).content, "m.federate": false } }) },
    event: () => pdu({ type: "m.room.message", sender: BOB, content: { body: "hi" } }),
    allowed: true,
  },

  // --- m.room.aliases ----------------------------------------------------------------------------
  {
    name: "aliases: non-member from the state key's server allowed",
    versions: "1-5",
    event: () => pdu({ type: "m.room.aliases", state_key: "example.org", sender: DAVE, content: { aliases: [] } }),
    allowed: true,
    rule: "aliases",
  },
  {
    name: "aliases: other server's key rejected",
    versions: "1-5",
    event: () => pdu({ type: "m.room.aliases", state_key: "example.com", sender: DAVE, content: { aliases: [] } }),
    allowed: false,
    rule: "aliases.domain",
  },
  {
    name: "aliases: an ordinary state event from v6 (non-member rejected)",
    versions: "6-12",
    event: () => pdu({ type: "m.room.aliases", state_key: "example.org", sender: DAVE, content: { aliases: [] } }),
    allowed: false,
    rule: "sender.joined",
  },

  // --- joins ------------------------------------------------------------------------------------
  {
    name: "join: the creator's first join after the create event",
    versions: "1-12",
    setup: { joinRule: null },
    event: () => member(ALICE, ALICE, "join", { prev_events: ["$create:example.com"] }),
    allowed: true,
    rule: "member.join.creator",
  },
  {
    name: "join: creator rule needs the create event to be the only prev event",
    versions: "1-12",
    setup: { joinRule: null },
    event: () => member(ALICE, ALICE, "join", { prev_events: ["$create:example.com", "$other"] }),
    allowed: false,
  },
  {
    name: "join: before v11 the creator is content.creator, not the sender",
    versions: "1-10",
    setup: { joinRule: null, create: (v) => createEvent(v, ALICE, { content: { creator: BOB } }) },
    event: () => member(BOB, BOB, "join", { prev_events: ["$create:example.com"] }),
    allowed: true,
    rule: "member.join.creator",
  },
  {
    name: "join: from v11 the creator is the create event's sender",
    versions: "11-12",
    setup: { joinRule: null, create: () => pdu({ event_id: "$create:example.com", type: "m.room.create", state_key: "", sender: ALICE, content: { creator: BOB } }) },
    event: () => member(BOB, BOB, "join", { prev_events: ["$create:example.com"] }),
    allowed: false,
  },
  { name: "join: public room", versions: "1-12", event: () => member(DAVE, DAVE, "join"), allowed: true, rule: "member.join.public" },
  { name: "join: for someone else", versions: "1-12", event: () => member(DAVE, EVE, "join"), allowed: false, rule: "member.join.sender" },
  {
    name: "join: banned user",
    versions: "1-12",
    setup: { extra: () => [member(ALICE, DAVE, "ban")] },
    event: () => member(DAVE, DAVE, "join"),
    allowed: false,
    rule: "member.join.banned",
  },
  { name: "join: invite-only without invite", versions: "1-12", setup: { joinRule: "invite" }, event: () => member(DAVE, DAVE, "join"), allowed: false },
  {
    name: "join: invite-only with invite",
    versions: "1-12",
    setup: { joinRule: "invite", extra: () => [member(ALICE, DAVE, "invite")] },
    event: () => member(DAVE, DAVE, "join"),
    allowed: true,
    rule: "member.join.invited",
  },
  {
    name: "join: no join rules event, even invited (reading: no join rule matches)",
    versions: "1-12",
    setup: { joinRule: null, extra: () => [member(ALICE, DAVE, "invite")] },
    event: () => member(DAVE, DAVE, "join"),
    allowed: false,
    rule: "member.join.rule",
  },
  {
    name: "join: knock rule unknown before v7, even invited",
    versions: "1-6",
    setup: { joinRule: "knock", extra: () => [member(ALICE, DAVE, "invite")] },
    event: () => member(DAVE, DAVE, "join"),
    allowed: false,
    rule: "member.join.rule",
  },
  {
    name: "join: knock rule with invite from v7",
    versions: "7-12",
    setup: { joinRule: "knock", extra: () => [member(ALICE, DAVE, "invite")] },
    event: () => member(DAVE, DAVE, "join"),
    allowed: true,
  },
  {
    name: "join: restricted unknown before v8",
    versions: "1-7",
    setup: { joinRule: "restricted" },
    event: () => member(DAVE, DAVE, "join", { content: { membership: "join", join_authorised_via_users_server: ALICE } }),
    allowed: false,
    rule: "member.join.rule",
  },
  {
    name: "join: restricted, authorised by a joined user who may invite",
    versions: "8-12",
    setup: { joinRule: "restricted" },
    event: () => member(DAVE, DAVE, "join", { content: { membership: "join", join_authorised_via_users_server: CAROL } }),
    allowed: true,
    rule: "member.join.restricted",
  },
  {
    name: "join: restricted without an authorising user",
    versions: "8-12",
    setup: { joinRule: "restricted" },
    event: () => member(DAVE, DAVE, "join"),
    allowed: false,
    rule: "member.join.restricted",
  },
  {
    name: "join: restricted, authorising user not joined",
    versions: "8-12",
    setup: { joinRule: "restricted" },
    event: () => member(DAVE, DAVE, "join", { content: { membership: "join", join_authorised_via_users_server: EVE } }),
    allowed: false,
    rule: "member.join.restricted",
  },
  {
    name: "join: restricted, authorising user below the invite level",
    versions: "8-12",
    setup: { joinRule: "restricted", pl: { invite: 10 } },
    event: () => member(DAVE, DAVE, "join", { content: { membership: "join", join_authorised_via_users_server: CAROL } }),
    allowed: false,
    rule: "member.join.restricted",
  },
  {
    name: "join: restricted, already invited needs no authoriser",
    versions: "8-12",
    setup: { joinRule: "restricted", extra: () => [member(ALICE, DAVE, "invite")] },
    event: () => member(DAVE, DAVE, "join"),
    allowed: true,
  },
  {
    name: "join: knock_restricted unknown before v10",
    versions: "1-9",
    setup: { joinRule: "knock_restricted" },
    event: () => member(DAVE, DAVE, "join", { content: { membership: "join", join_authorised_via_users_server: CAROL } }),
    allowed: false,
  },
  {
    name: "join: knock_restricted with an authoriser from v10",
    versions: "10-12",
    setup: { joinRule: "knock_restricted" },
    event: () => member(DAVE, DAVE, "join", { content: { membership: "join", join_authorised_via_users_server: CAROL } }),
    allowed: true,
  },

  // --- invites ----------------------------------------------------------------------------------
  { name: "invite: joined member invites", versions: "1-12", event: () => member(CAROL, DAVE, "invite"), allowed: true, rule: "member.invite.level" },
  { name: "invite: sender not joined", versions: "1-12", event: () => member(EVE, DAVE, "invite"), allowed: false, rule: "member.invite.sender" },
  { name: "invite: target already joined", versions: "1-12", event: () => member(CAROL, BOB, "invite"), allowed: false, rule: "member.invite.target" },
  {
    name: "invite: target banned",
    versions: "1-12",
    setup: { extra: () => [member(ALICE, DAVE, "ban")] },
    event: () => member(CAROL, DAVE, "invite"),
    allowed: false,
    rule: "member.invite.target",
  },
  { name: "invite: below the invite level", versions: "1-12", setup: { pl: { invite: 1 } }, event: () => member(CAROL, DAVE, "invite"), allowed: false, rule: "member.invite.level" },
  {
    name: "invite: third-party invite with a matching signature",
    versions: "1-12",
    setup: { extra: () => [tpiEvent()] },
    event: () => tpInvite(ALICE, DAVE, signedInvite(DAVE, "tok")),
    allowed: true,
    rule: "member.invite.3pid",
  },
  {
    name: "invite: third-party invite bypasses the sender-joined rule",
    versions: "1-12",
    setup: { extra: () => [tpiEvent(EVE)] },
    event: () => tpInvite(EVE, DAVE, signedInvite(DAVE, "tok")),
    allowed: true,
  },
  {
    name: "invite: third-party invite signed by another key",
    versions: "1-12",
    setup: { extra: () => [tpiEvent()] },
    event: () => tpInvite(ALICE, DAVE, signedInvite(DAVE, "tok", OTHER_SECRET)),
    allowed: false,
    rule: "member.invite.3pid.signature",
  },
  {
    name: "invite: third-party invite for another mxid",
    versions: "1-12",
    setup: { extra: () => [tpiEvent()] },
    event: () => tpInvite(ALICE, DAVE, signedInvite(EVE, "tok")),
    allowed: false,
    rule: "member.invite.3pid.mxid",
  },
  {
    name: "invite: third-party invite without the m.room.third_party_invite",
    versions: "1-12",
    event: () => tpInvite(ALICE, DAVE, signedInvite(DAVE, "tok")),
    allowed: false,
    rule: "member.invite.3pid.token",
  },
  {
    name: "invite: third-party invite from someone else than its sender",
    versions: "1-12",
    setup: { extra: () => [tpiEvent(BOB)] },
    event: () => tpInvite(ALICE, DAVE, signedInvite(DAVE, "tok")),
    allowed: false,
    rule: "member.invite.3pid.sender",
  },
  {
    name: "invite: third-party invite of a banned user",
    versions: "1-12",
    setup: { extra: () => [tpiEvent(), member(ALICE, DAVE, "ban")] },
    event: () => tpInvite(ALICE, DAVE, signedInvite(DAVE, "tok")),
    allowed: false,
    rule: "member.invite.3pid.banned",
  },
  {
    name: "invite: third-party invite without signed",
    versions: "1-12",
    setup: { extra: () => [tpiEvent()] },
    event: () => pdu({ type: "m.room.member", sender: ALICE, state_key: DAVE, content: { membership: "invite", third_party_invite: {} } }),
    allowed: false,
    rule: "member.invite.3pid.signed",
  },

  // --- leave / kick / ban --------------------------------------------------------------------------
  { name: "leave: own leave while joined", versions: "1-12", event: () => member(CAROL, CAROL, "leave"), allowed: true },
  {
    name: "leave: own leave from invite",
    versions: "1-12",
    setup: { extra: () => [member(ALICE, DAVE, "invite")] },
    event: () => member(DAVE, DAVE, "leave"),
    allowed: true,
  },
  { name: "leave: own leave when never joined", versions: "1-12", event: () => member(DAVE, DAVE, "leave"), allowed: false, rule: "member.leave.self" },
  {
    name: "leave: own leave from knock before v7 (knock unknown)",
    versions: "1-6",
    setup: { extra: () => [member(DAVE, DAVE, "knock")] },
    event: () => member(DAVE, DAVE, "leave"),
    allowed: false,
  },
  {
    name: "leave: own leave from knock from v7",
    versions: "7-12",
    setup: { extra: () => [member(DAVE, DAVE, "knock")] },
    event: () => member(DAVE, DAVE, "leave"),
    allowed: true,
  },
  {
    name: "leave: banned user cannot leave themselves",
    versions: "1-12",
    setup: { extra: () => [member(ALICE, DAVE, "ban")] },
    event: () => member(DAVE, DAVE, "leave"),
    allowed: false,
  },
  { name: "kick: higher power kicks lower", versions: "1-12", event: () => member(BOB, CAROL, "leave"), allowed: true, rule: "member.leave.kick" },
  { name: "kick: lower power kicks higher", versions: "1-12", event: () => member(CAROL, BOB, "leave"), allowed: false, rule: "member.leave.kick" },
  {
    name: "kick: equal power",
    versions: "1-12",
    setup: { plUsers: (v) => adminUsers(v, { [CAROL]: 50 }) },
    event: () => member(BOB, CAROL, "leave"),
    allowed: false,
  },
  { name: "kick: below the kick level", versions: "1-12", setup: { pl: { kick: 60 } }, event: () => member(BOB, CAROL, "leave"), allowed: false },
  {
    name: "kick: sender not joined",
    versions: "1-12",
    setup: { extra: () => [member(BOB, BOB, "leave")] },
    event: () => member(BOB, CAROL, "leave"),
    allowed: false,
    rule: "member.leave.sender",
  },
  {
    name: "unban: needs the ban level",
    versions: "1-12",
    setup: { pl: { ban: 60 }, extra: () => [member(ALICE, DAVE, "ban")] },
    event: () => member(BOB, DAVE, "leave"),
    allowed: false,
    rule: "member.leave.unban",
  },
  {
    name: "unban: with ban and kick levels",
    versions: "1-12",
    setup: { extra: () => [member(ALICE, DAVE, "ban")] },
    event: () => member(BOB, DAVE, "leave"),
    allowed: true,
  },
  { name: "ban: at the ban level", versions: "1-12", event: () => member(BOB, CAROL, "ban"), allowed: true, rule: "member.ban.level" },
  { name: "ban: below the ban level", versions: "1-12", setup: { pl: { ban: 51 } }, event: () => member(BOB, CAROL, "ban"), allowed: false },
  { name: "ban: target not below the sender", versions: "1-12", event: () => member(BOB, ALICE, "ban"), allowed: false },
  { name: "ban: non-member target", versions: "1-12", event: () => member(BOB, DAVE, "ban"), allowed: true },
  {
    name: "ban: sender not joined",
    versions: "1-12",
    setup: { extra: () => [member(BOB, BOB, "leave")] },
    event: () => member(BOB, CAROL, "ban"),
    allowed: false,
    rule: "member.ban.sender",
  },

  // --- knock --------------------------------------------------------------------------------------
  { name: "knock: unknown membership before v7", versions: "1-6", setup: { joinRule: "knock" }, event: () => member(DAVE, DAVE, "knock"), allowed: false, rule: "member.unknown" },
  { name: "knock: on a knock room", versions: "7-12", setup: { joinRule: "knock" }, event: () => member(DAVE, DAVE, "knock"), allowed: true, rule: "member.knock" },
  { name: "knock: on an invite room", versions: "7-12", setup: { joinRule: "invite" }, event: () => member(DAVE, DAVE, "knock"), allowed: false, rule: "member.knock.rule" },
  { name: "knock: on knock_restricted before v10", versions: "7-9", setup: { joinRule: "knock_restricted" }, event: () => member(DAVE, DAVE, "knock"), allowed: false },
  { name: "knock: on knock_restricted from v10", versions: "10-12", setup: { joinRule: "knock_restricted" }, event: () => member(DAVE, DAVE, "knock"), allowed: true },
  { name: "knock: for someone else", versions: "7-12", setup: { joinRule: "knock" }, event: () => member(DAVE, EVE, "knock"), allowed: false, rule: "member.knock.sender" },
  {
    name: "knock: while banned",
    versions: "7-12",
    setup: { joinRule: "knock", extra: () => [member(ALICE, DAVE, "ban")] },
    event: () => member(DAVE, DAVE, "knock"),
    allowed: false,
    rule: "member.knock.membership",
  },
  { name: "knock: while joined", versions: "7-12", setup: { joinRule: "knock" }, event: () => member(CAROL, CAROL, "knock"), allowed: false },
  { name: "member: unknown membership", versions: "1-12", event: () => member(CAROL, CAROL, "dance"), allowed: false, rule: "member.unknown" },
  {
    name: "member: no membership",
    versions: "1-12",
    event: () => pdu({ type: "m.room.member", sender: CAROL, state_key: CAROL, content: {} }),
    allowed: false,
    rule: "member.shape",
  },

  // --- other events --------------------------------------------------------------------------------
  { name: "message: sender not joined", versions: "1-12", event: () => pdu({ type: "m.room.message", sender: DAVE, content: {} }), allowed: false, rule: "sender.joined" },
  { name: "message: joined member", versions: "1-12", event: () => pdu({ type: "m.room.message", sender: CAROL, content: {} }), allowed: true },
  {
    name: "state: below state_default",
    versions: "1-12",
    event: () => pdu({ type: "m.room.topic", state_key: "", sender: CAROL, content: { topic: "x" } }),
    allowed: false,
    rule: "event.level",
  },
  {
    name: "state: events map overrides state_default",
    versions: "1-12",
    setup: { pl: { events: { "m.room.topic": 0 } } },
    event: () => pdu({ type: "m.room.topic", state_key: "", sender: CAROL, content: { topic: "x" } }),
    allowed: true,
  },
  {
    name: "state: string level accepted up to v9",
    versions: "1-9",
    setup: { pl: { events: { "m.room.topic": " 0 " } } },
    event: () => pdu({ type: "m.room.topic", state_key: "", sender: CAROL, content: { topic: "x" } }),
    allowed: true,
  },
  {
    name: "state: a state key naming another user",
    versions: "1-12",
    event: () => pdu({ type: "org.example.thing", state_key: CAROL, sender: BOB, content: {} }),
    allowed: false,
    rule: "state_key.user",
  },
  {
    name: "state: a state key naming the sender",
    versions: "1-12",
    setup: { pl: { state_default: 0 } },
    event: () => pdu({ type: "org.example.thing", state_key: CAROL, sender: CAROL, content: {} }),
    allowed: true,
  },
  {
    name: "third_party_invite event: at the invite level",
    versions: "1-12",
    event: () => pdu({ type: "m.room.third_party_invite", state_key: "t", sender: CAROL, content: {} }),
    allowed: true,
    rule: "third_party_invite",
  },
  {
    name: "third_party_invite event: below the invite level",
    versions: "1-12",
    setup: { pl: { invite: 5 } },
    event: () => pdu({ type: "m.room.third_party_invite", state_key: "t", sender: CAROL, content: {} }),
    allowed: false,
  },
  {
    name: "redaction: redact level decides in v1-v2",
    versions: "1-2",
    setup: { pl: { redact: 50 } },
    event: () => pdu({ type: "m.room.redaction", sender: CAROL, redacts: "$x:example.org", event_id: "$r1:example.com", content: {} }),
    allowed: false,
    rule: "redaction",
  },
  {
    name: "redaction: same-server event in v1-v2",
    versions: "1-2",
    event: () => pdu({ type: "m.room.redaction", sender: CAROL, redacts: "$x:example.com", event_id: "$r2:example.com", content: {} }),
    allowed: true,
    rule: "redaction.domain",
  },
  {
    name: "redaction: an ordinary event from v3",
    versions: "3-12",
    event: () => pdu({ type: "m.room.redaction", sender: CAROL, redacts: "$x:example.org", content: {} }),
    allowed: true,
    rule: "default",
  },

  // --- power levels ---------------------------------------------------------------------------------
  {
    name: "power levels: admin raises a user to their own level",
    versions: "1-11",
    event: () => plEvent(ALICE, { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 100 } }),
    allowed: true,
  },
  {
    name: "power levels: raising someone above oneself",
    versions: "1-12",
    event: (v) => plEvent(BOB, { users: adminUsers(v, { [CAROL]: 51 }) }),
    allowed: false,
    rule: "power_levels.users_change",
  },
  {
    name: "power levels: demoting a peer at one's own level",
    versions: "1-12",
    setup: { plUsers: (v) => adminUsers(v, { [CAROL]: 50 }), pl: { state_default: 50 } },
    event: (v) => plEvent(BOB, { users: adminUsers(v, { [CAROL]: 0 }), state_default: 50 }),
    allowed: false,
    rule: "power_levels.users_change",
  },
  {
    name: "power levels: demoting oneself",
    versions: "1-12",
    event: (v) => plEvent(BOB, { users: { ...adminUsers(v), [BOB]: 10 } }),
    allowed: true,
  },
  {
    name: "power levels: changing a named level above oneself",
    versions: "1-12",
    setup: { pl: { state_default: 50 } },
    event: (v) => plEvent(BOB, { users: adminUsers(v), state_default: 50, ban: 60 }),
    allowed: false,
    rule: "power_levels.named",
  },
  {
    name: "power levels: removing a named level currently above oneself",
    versions: "1-12",
    setup: { pl: { state_default: 50, kick: 75 } },
    event: (v) => plEvent(BOB, { users: adminUsers(v), state_default: 50 }),
    allowed: false,
    rule: "power_levels.named",
  },
  {
    name: "power levels: an events entry above oneself",
    versions: "1-12",
    setup: { pl: { state_default: 50 } },
    event: (v) => plEvent(BOB, { users: adminUsers(v), state_default: 50, events: { "m.room.name": 51 } }),
    allowed: false,
    rule: "power_levels.events",
  },
  {
    name: "power levels: notifications unchecked before v6",
    versions: "1-5",
    setup: { pl: { state_default: 50 } },
    event: (v) => plEvent(BOB, { users: adminUsers(v), state_default: 50, notifications: { room: 99 } }),
    allowed: true,
  },
  {
    name: "power levels: notifications checked from v6",
    versions: "6-12",
    setup: { pl: { state_default: 50 } },
    event: (v) => plEvent(BOB, { users: adminUsers(v), state_default: 50, notifications: { room: 99 } }),
    allowed: false,
    rule: "power_levels.notifications",
  },
  {
    name: "power levels: string user level accepted up to v9",
    versions: "1-9",
    event: (v) => plEvent(ALICE, { users: v >= 12 ? {} : { [ALICE]: "100", [BOB]: "+50" } }),
    allowed: true,
  },
  {
    name: "power levels: string user level rejected from v10",
    versions: "10-11",
    event: () => plEvent(ALICE, { users: { [ALICE]: "100", [BOB]: 50 } }),
    allowed: false,
    rule: "power_levels",
  },
  {
    name: "power levels: non-integer named level rejected from v10",
    versions: "10-12",
    event: (v) => plEvent(ALICE, { users: adminUsers(v), ban: "50" }),
    allowed: false,
    rule: "power_levels.integer",
  },
  {
    name: "power levels: events map with a string value rejected from v10",
    versions: "10-12",
    event: (v) => plEvent(ALICE, { users: adminUsers(v), events: { "m.room.name": "50" } }),
    allowed: false,
    rule: "power_levels.integer",
  },
  {
    name: "power levels: string named level tolerated up to v9",
    versions: "1-9",
    event: (v) => plEvent(ALICE, { users: adminUsers(v), ban: "50" }),
    allowed: true,
  },
  {
    name: "power levels: float user level accepted up to v5",
    versions: "1-5",
    event: () => plEvent(ALICE, { users: { [ALICE]: 100, [BOB]: 50.57 } }),
    allowed: true,
  },
  {
    name: "power levels: float user level rejected from v6",
    versions: "6-11",
    event: () => plEvent(ALICE, { users: { [ALICE]: 100, [BOB]: 50.57 } }),
    allowed: false,
    rule: "power_levels.users",
  },
  {
    name: "power levels: a key that is not a user ID",
    versions: "1-12",
    event: (v) => plEvent(ALICE, { users: { ...adminUsers(v), "not-a-user": 0 } }),
    allowed: false,
    rule: "power_levels.users",
  },
  {
    name: "power levels: users that is not an object",
    versions: "1-12",
    event: () => plEvent(ALICE, { users: [] }),
    allowed: false,
    rule: "power_levels.users",
  },
  // --- v12 creators ---------------------------------------------------------------------------------
  {
    name: "v12: a creator listed in users is rejected",
    versions: "12",
    event: () => plEvent(ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
    allowed: false,
    rule: "power_levels.creators",
  },
  {
    name: "v12: an additional creator listed in users is rejected",
    versions: "12",
    setup: { create: () => pdu({ event_id: "$create:example.com", type: "m.room.create", state_key: "", sender: ALICE, content: { additional_creators: [CAROL] } }) },
    event: () => plEvent(ALICE, { users: { [BOB]: 50, [CAROL]: 50 } }),
    allowed: false,
    rule: "power_levels.creators",
  },
  {
    name: "v12: the creator, absent from users, may set any level",
    versions: "12",
    event: () => plEvent(ALICE, { users: { [BOB]: 1_000_000 } }),
    allowed: true,
  },
  {
    name: "v12: an additional creator may ban a user at 100",
    versions: "12",
    setup: {
      create: () => pdu({ event_id: "$create:example.com", type: "m.room.create", state_key: "", sender: ALICE, content: { additional_creators: [CAROL] } }),
      plUsers: () => ({ [BOB]: 100 }),
    },
    event: () => member(CAROL, BOB, "ban"),
    allowed: true,
  },
  {
    name: "v12: nobody may ban a creator",
    versions: "12",
    setup: { plUsers: () => ({ [BOB]: 1_000_000 }) },
    event: () => member(BOB, ALICE, "ban"),
    allowed: false,
  },
  {
    name: "before v12 a higher level may ban the creator",
    versions: "1-11",
    setup: { plUsers: () => ({ [ALICE]: 100, [BOB]: 101 }) },
    event: () => member(BOB, ALICE, "ban"),
    allowed: true,
  },
];

describe("authorisation rules, table of boundary cases", () => {
  for (const c of cases) {
    for (const v of versions(c.versions)) {
      test(`v${v}: ${c.name} -> ${c.allowed ? "allow" : "reject"}`, () => {
        const { events, base } = build(v, c.setup);
        const event = c.event(v, base);
        const decision = checkAuthRules(event, stateOf(events), { rules: rulesOf(v), roomCreate: base.create });
        expect(decision, `${decision.rule}: ${decision.reason}`).toMatchObject({ allowed: c.allowed });
        if (c.rule) expect(decision.rule.startsWith(c.rule), `decided by ${decision.rule}`).toBe(true);
      });
    }
  }

  test("every version is covered by at least 60 cases", () => {
    for (const v of versions("1-12")) {
      expect(cases.filter((c) => versions(c.versions).includes(v)).length).toBeGreaterThanOrEqual(60);
    }
  });
});

describe("authorisation rules without a power-levels event", () => {
  const noPl = (v: number): Pdu[] => [createEvent(v), member(ALICE, ALICE, "join"), member(BOB, BOB, "join")];
  test.each(versions("1-11"))("v%i: the creator has 100 and may send state", (v) => {
    const e = pdu({ type: "m.room.name", state_key: "", sender: ALICE, content: {} });
    expect(checkAuthRules(e, stateOf(noPl(v)), { rules: rulesOf(v) }).allowed).toBe(true);
    expect(userLevel(ALICE, undefined, createEvent(v), rulesOf(v))).toBe(100);
  });
  test.each(versions("1-12"))("v%i: others have 0 and state_default is 50", (v) => {
    const e = pdu({ type: "m.room.name", state_key: "", sender: BOB, content: {} });
    expect(checkAuthRules(e, stateOf(noPl(v)), { rules: rulesOf(v), roomCreate: createEvent(v) }).allowed).toBe(false);
  });
  test("v12: the creator's power is infinite, with or without power levels", () => {
    expect(userLevel(ALICE, undefined, createEvent(12), rulesOf(12))).toBe(CREATOR_POWER);
    const pl = plEvent(ALICE, { users: { [BOB]: 100 } });
    expect(userLevel(ALICE, pl, createEvent(12), rulesOf(12))).toBe(CREATOR_POWER);
    expect(userLevel(BOB, pl, createEvent(12), rulesOf(12))).toBe(100);
  });
  test.each(versions("1-12"))("v%i: the first power levels event only needs valid content", (v) => {
    const first = plEvent(ALICE, { users: { [BOB]: 1_000_000 }, ban: 1_000_000, events: { "m.room.name": 1_000_000 } });
    expect(checkAuthRules(first, stateOf(noPl(v)), { rules: rulesOf(v), roomCreate: createEvent(v) }).rule).toBe("power_levels.first");
    const bad = plEvent(ALICE, { users: { nobody: 1 } });
    expect(checkAuthRules(bad, stateOf(noPl(v)), { rules: rulesOf(v), roomCreate: createEvent(v) }).allowed).toBe(false);
  });
  test("v1-v11: creator level comes from the power levels once they exist", () => {
    const pl = plEvent(ALICE, { users: { [BOB]: 100 }, users_default: 3 });
    expect(userLevel(ALICE, pl, createEvent(11), rulesOf(11))).toBe(3);
  });
  test("v1-v11 with no create event in the state: rejected", () => {
    const e = pdu({ type: "m.room.message", sender: ALICE, content: {} });
    expect(checkAuthRules(e, stateOf([member(ALICE, ALICE, "join")]), { rules: rulesOf(11) }).rule).toBe("create.missing");
  });
  test("v12: the create event comes from the room, not the state", () => {
    const e = pdu({ type: "m.room.message", sender: ALICE, content: {} });
    const state = stateOf([member(ALICE, ALICE, "join")]);
    expect(checkAuthRules(e, state, { rules: rulesOf(12), roomCreate: createEvent(12) }).allowed).toBe(true);
    expect(checkAuthRules(e, state, { rules: rulesOf(12) }).rule).toBe("create.missing");
    const wrongRoom = { ...e, room_id: "!other" };
    expect(checkAuthRules(wrongRoom, state, { rules: rulesOf(12), roomCreate: createEvent(12) }).rule).toBe("room_id.create");
    const rightRoom = { ...e, room_id: "!create:example.com" };
    expect(checkAuthRules(rightRoom, state, { rules: rulesOf(12), roomCreate: createEvent(12) }).allowed).toBe(true);
  });
});

describe("power level values per room version", () => {
  test.each([
    [1, 50.9, 50],
    [5, -7.5, -7],
    [6, 50.5, undefined],
    [1, " +0100 ", 100],
    [9, "-5", -5],
    [9, "5.0", undefined],
    [9, "1e3", undefined],
    [10, "5", undefined],
    [10, 5, 5],
    [3, 1e400, undefined],
    [3, Number.NaN, undefined],
    [3, true, undefined],
  ])("v%i reads %j as %j", (v, value, expected) => {
    expect(parseLevel(value, rulesOf(v))).toBe(expected);
  });
});

describe("the auth_events list rule", () => {
  const create = createEvent(10);
  const join = member(ALICE, ALICE, "join", { event_id: "$j:example.com" });
  const pl = plEvent(ALICE, { users: { [ALICE]: 100 } });
  const msg = (auth: Pdu[]): Pdu => pdu({ type: "m.room.message", sender: ALICE, content: {}, auth_events: auth.map((e) => e.event_id) });

  test("well-formed auth events", () => {
    expect(checkAuthEventsList(msg([create, join, pl]), [create, join, pl], rulesOf(10)).allowed).toBe(true);
  });
  test("duplicate (type, state_key)", () => {
    const pl2 = { ...pl, event_id: "$pl2" };
    expect(checkAuthEventsList(msg([create, pl, pl2]), [create, pl, pl2], rulesOf(10)).rule).toBe("auth_events.duplicate");
  });
  test("an entry the selection does not name", () => {
    const topic = pdu({ type: "m.room.topic", state_key: "", sender: ALICE, content: {} });
    expect(checkAuthEventsList(msg([create, topic]), [create, topic], rulesOf(10)).rule).toBe("auth_events.selection");
  });
  test("a rejected entry", () => {
    expect(checkAuthEventsList(msg([create, pl]), [create, pl], rulesOf(10), (id) => id === pl.event_id).rule).toBe("auth_events.rejected");
  });
  test("v1-v11 need the create event", () => {
    for (const v of versions("1-11")) expect(checkAuthEventsList(msg([join]), [join], rulesOf(v)).rule).toBe("auth_events.no_create");
  });
  test("v12 must not list the create event, and needs none", () => {
    expect(checkAuthEventsList(msg([create, join]), [create, join], rulesOf(12)).rule).toBe("auth_events.selection");
    expect(checkAuthEventsList(msg([join]), [join], rulesOf(12)).allowed).toBe(true);
  });
  test("room IDs must match when events carry them", () => {
    const a = { ...create, room_id: "!a:example.com" };
    const e = { ...msg([a]), room_id: "!b:example.com" };
    expect(checkAuthEventsList(e, [a], rulesOf(10)).rule).toBe("auth_events.room_id");
  });
  test("a create event has no auth events", () => {
    expect(checkAuthEventsList({ ...create, auth_events: ["$x"] }, [join], rulesOf(10)).allowed).toBe(false);
  });
});
