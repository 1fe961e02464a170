// Push rules: the server-default rule set, creating, placing, changing and deleting user-defined
// rules, their enabled flag and actions, and how a change reaches /sync.
// Spec: client-server-api/#predefined-rules, #push-rules, #push-rules-events,
// #get_matrixclientv3pushrules, #get_matrixclientv3pushrulesglobal,
// #get_matrixclientv3pushrulesglobalkindruleid, #put_matrixclientv3pushrulesglobalkindruleid,
// #delete_matrixclientv3pushrulesglobalkindruleid, #get/put_matrixclientv3pushrulesglobalkindruleidenabled,
// #get/put_matrixclientv3pushrulesglobalkindruleidactions.
import { serverNameOf } from "../../harness/crypto/index.ts";
import { cs, describe, expect, spec, test, type UserClient } from "../../harness/fixtures/index.ts";

const GET_ALL = "client-server-api/#get_matrixclientv3pushrules";
const GET_GLOBAL = "client-server-api/#get_matrixclientv3pushrulesglobal";
const GET_RULE = "client-server-api/#get_matrixclientv3pushrulesglobalkindruleid";
const PUT_RULE = "client-server-api/#put_matrixclientv3pushrulesglobalkindruleid";
const DELETE_RULE = "client-server-api/#delete_matrixclientv3pushrulesglobalkindruleid";
const GET_ENABLED = "client-server-api/#get_matrixclientv3pushrulesglobalkindruleidenabled";
const PUT_ENABLED = "client-server-api/#put_matrixclientv3pushrulesglobalkindruleidenabled";
const GET_ACTIONS = "client-server-api/#get_matrixclientv3pushrulesglobalkindruleidactions";
const PUT_ACTIONS = "client-server-api/#put_matrixclientv3pushrulesglobalkindruleidactions";

type Kind = "override" | "content" | "room" | "sender" | "underride";
type Action = string | { set_tweak: string; value?: unknown };
interface Condition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: unknown;
}
interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: Action[];
  conditions?: Condition[];
  pattern?: string;
}
type Ruleset = Partial<Record<Kind, PushRule[]>>;

/** Stands for the owner's user ID in the spec's definitions ("[the user's Matrix ID]"). */
const ME = "[the user's Matrix ID]";

interface Predefined {
  kind: Kind;
  since: string;
  enabled: boolean;
  conditions: Condition[];
  actions: Action[];
}

const NOTIFY_SOUND_DEFAULT: Action[] = ["notify", { set_tweak: "sound", value: "default" }];

// The server-default rules of #predefined-rules, kind by kind in the order the spec lists them
// (v1.6 corrected that order: "Correct the order of the default override pushrules in the spec"),
// each with the release that added it. v1.17 removed the legacy body-matching mention rules
// (.m.rule.contains_display_name, .m.rule.roomnotif, .m.rule.contains_user_name).
const PREDEFINED: Record<string, Predefined> = {
  ".m.rule.master": { kind: "override", since: "1.0", enabled: false, conditions: [], actions: [] },
  ".m.rule.suppress_notices": { kind: "override", since: "1.0", enabled: true, conditions: [{ kind: "event_match", key: "content.msgtype", pattern: "m.notice" }], actions: [] },
  ".m.rule.invite_for_me": {
    kind: "override",
    since: "1.0",
    enabled: true,
    conditions: [
      { kind: "event_match", key: "type", pattern: "m.room.member" },
      { kind: "event_match", key: "content.membership", pattern: "invite" },
      { kind: "event_match", key: "state_key", pattern: ME },
    ],
    actions: NOTIFY_SOUND_DEFAULT,
  },
  ".m.rule.member_event": { kind: "override", since: "1.0", enabled: true, conditions: [{ kind: "event_match", key: "type", pattern: "m.room.member" }], actions: [] },
  ".m.rule.is_user_mention": {
    kind: "override",
    since: "1.7",
    enabled: true,
    conditions: [{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: ME }],
    actions: [...NOTIFY_SOUND_DEFAULT, { set_tweak: "highlight" }],
  },
  ".m.rule.is_room_mention": {
    kind: "override",
    since: "1.7",
    enabled: true,
    conditions: [
      { kind: "event_property_is", key: "content.m\\.mentions.room", value: true },
      { kind: "sender_notification_permission", key: "room" },
    ],
    actions: ["notify", { set_tweak: "highlight" }],
  },
  ".m.rule.tombstone": {
    kind: "override",
    since: "1.0",
    enabled: true,
    conditions: [
      { kind: "event_match", key: "type", pattern: "m.room.tombstone" },
      { kind: "event_match", key: "state_key", pattern: "" },
    ],
    actions: ["notify", { set_tweak: "highlight" }],
  },
  ".m.rule.reaction": { kind: "override", since: "1.7", enabled: true, conditions: [{ kind: "event_match", key: "type", pattern: "m.reaction" }], actions: [] },
  ".m.rule.room.server_acl": {
    kind: "override",
    since: "1.4",
    enabled: true,
    conditions: [
      { kind: "event_match", key: "type", pattern: "m.room.server_acl" },
      { kind: "event_match", key: "state_key", pattern: "" },
    ],
    actions: [],
  },
  ".m.rule.suppress_edits": { kind: "override", since: "1.9", enabled: true, conditions: [{ kind: "event_property_is", key: "content.m\\.relates_to.rel_type", value: "m.replace" }], actions: [] },
  ".m.rule.call": { kind: "underride", since: "1.0", enabled: true, conditions: [{ kind: "event_match", key: "type", pattern: "m.call.invite" }], actions: ["notify", { set_tweak: "sound", value: "ring" }] },
  ".m.rule.encrypted_room_one_to_one": {
    kind: "underride",
    since: "1.0",
    enabled: true,
    conditions: [
      { kind: "room_member_count", is: "2" },
      { kind: "event_match", key: "type", pattern: "m.room.encrypted" },
    ],
    actions: NOTIFY_SOUND_DEFAULT,
  },
  ".m.rule.room_one_to_one": {
    kind: "underride",
    since: "1.0",
    enabled: true,
    conditions: [
      { kind: "room_member_count", is: "2" },
      { kind: "event_match", key: "type", pattern: "m.room.message" },
    ],
    actions: NOTIFY_SOUND_DEFAULT,
  },
  ".m.rule.message": { kind: "underride", since: "1.0", enabled: true, conditions: [{ kind: "event_match", key: "type", pattern: "m.room.message" }], actions: ["notify"] },
  ".m.rule.encrypted": { kind: "underride", since: "1.0", enabled: true, conditions: [{ kind: "event_match", key: "type", pattern: "m.room.encrypted" }], actions: ["notify"] },
};

const KINDS: Kind[] = ["override", "content", "room", "sender", "underride"];

function rulePath(kind: Kind, ruleId: string, attr?: "enabled" | "actions"): string {
  return attr ? cs.v3`/pushrules/global/${kind}/${ruleId}/${attr}` : cs.v3`/pushrules/global/${kind}/${ruleId}`;
}

async function globalRules(user: UserClient): Promise<Ruleset> {
  return user.step<Ruleset>("read the push rules", "GET", cs.v3`/pushrules/global/`);
}

async function putRule(user: UserClient, kind: Kind, ruleId: string, body: Record<string, unknown>, query?: Record<string, string>): Promise<void> {
  await user.step(`create the ${kind} rule ${ruleId}`, "PUT", rulePath(kind, ruleId), { body, query });
}

/** The rule IDs of one kind of the user's ruleset, most important first. */
function idsOf(rules: Ruleset, kind: Kind): string[] {
  return (rules[kind] ?? []).map((r) => r.rule_id);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a list of actions does, as the spec defines it: whether it notifies, and the tweaks it
 * sets. `set_tweak` "Sets an entry in the tweaks dictionary", so tweaks of different names do
 * not depend on their order; "If a highlight tweak is given with no value, its value is defined
 * to be true. If no highlight tweak is given at all then the value of highlight is defined to be
 * false"; dont_notify and coalesce "MUST" be ignored (#actions). Anything else is kept as is.
 */
function actionMeaning(actions: Action[]): string {
  const tweaks: Record<string, unknown> = { highlight: false };
  const others: string[] = [];
  let notify = false;
  for (const a of actions) {
    if (a === "notify") notify = true;
    else if (a === "dont_notify" || a === "coalesce") continue;
    else if (typeof a === "object" && a !== null && typeof a.set_tweak === "string" && Object.keys(a).every((k) => k === "set_tweak" || k === "value")) {
      tweaks[a.set_tweak] = "value" in a ? a.value : a.set_tweak === "highlight" ? true : undefined;
    } else others.push(canonical(a));
  }
  return canonical({ notify, tweaks, others });
}

/** Conditions as a set: "All conditions must hold true for an event in order for the rule to match". */
function conditionSet(conditions: Condition[] | undefined): string[] {
  return (conditions ?? []).map(canonical).sort();
}

/** What differs between a served server-default rule and its definition in #predefined-rules. */
function predefinedProblems(ruleId: string, served: Ruleset, userId: string): string[] {
  const def = PREDEFINED[ruleId]!;
  const place = (k: Kind) => (served[k] ?? []).find((r) => r.rule_id === ruleId);
  const rule = place(def.kind);
  if (!rule) {
    const elsewhere = KINDS.filter((k) => place(k) !== undefined);
    return [`${ruleId} is missing from the ${def.kind} rules${elsewhere.length ? ` (it is served as ${elsewhere.join(", ")})` : ""}`];
  }
  const withMe = (c: Condition[]) => c.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v === ME ? userId : v])) as Condition);
  const problems: string[] = [];
  if (rule.default !== true) problems.push(`"default" is ${JSON.stringify(rule.default)}, not true`);
  if (rule.enabled !== def.enabled) problems.push(`"enabled" is ${JSON.stringify(rule.enabled)}, not ${def.enabled}`);
  if (canonical(conditionSet(rule.conditions)) !== canonical(conditionSet(withMe(def.conditions)))) {
    problems.push(`"conditions" are ${canonical(rule.conditions ?? null)}, not ${canonical(withMe(def.conditions))}`);
  }
  if (actionMeaning(rule.actions ?? []) !== actionMeaning(def.actions)) problems.push(`"actions" are ${canonical(rule.actions ?? null)}, not ${canonical(def.actions)}`);
  return problems.map((p) => `${ruleId}: ${p}`);
}

describe("The server-default push rules", () => {
  // #predefined-rules: "The following server-default rules are specified". The section defines
  // each rule without a modal verb; a definition is normative, so MUST (the default level).
  for (const [ruleId, def] of Object.entries(PREDEFINED)) {
    test(`serves ${ruleId} among the ${def.kind} rules as the spec defines it`, spec(GET_GLOBAL, def.since), async ({ alice }) => {
      const res = await alice.get(cs.v3`/pushrules/global/`);
      expect(res).toHaveStatus(200);
      expect(predefinedProblems(ruleId, res.body, alice.userId), "how the served rule differs from its definition in the spec").toEqual([]);
    });
  }

  // The order within a kind is the order of the spec's lists (v1.9 appended .m.rule.suppress_edits).
  test("lists the server-default override rules in the spec's order", spec(GET_GLOBAL, "1.9"), async ({ alice }) => {
    const res = await alice.get(cs.v3`/pushrules/global/`);
    expect(res).toHaveStatus(200);
    const specOrder = Object.keys(PREDEFINED).filter((id) => PREDEFINED[id]!.kind === "override");
    const served = idsOf(res.body, "override").filter((id) => specOrder.includes(id));
    expect(served, "the specified override rules the server serves, in its order").toEqual(specOrder.filter((id) => served.includes(id)));
  });

  test("lists the server-default underride rules in the spec's order", spec(GET_GLOBAL, "1.0"), async ({ alice }) => {
    const res = await alice.get(cs.v3`/pushrules/global/`);
    expect(res).toHaveStatus(200);
    const specOrder = Object.keys(PREDEFINED).filter((id) => PREDEFINED[id]!.kind === "underride");
    const served = idsOf(res.body, "underride").filter((id) => specOrder.includes(id));
    expect(served, "the specified underride rules the server serves, in its order").toEqual(specOrder.filter((id) => served.includes(id)));
  });

  test("gives every server-default rule an ID starting with a dot", spec(GET_GLOBAL, "1.0"), async ({ alice }) => {
    const res = await alice.get(cs.v3`/pushrules/global/`);
    expect(res).toHaveStatus(200);
    // "The rule_id for all server-default rules MUST start with a dot"
    const offending = KINDS.flatMap((k) => ((res.body as Ruleset)[k] ?? []).filter((r) => r.default && !r.rule_id.startsWith(".")).map((r) => `${k}/${r.rule_id}`));
    expect(offending, "server-default rules whose rule_id does not start with '.'").toEqual([]);
  });

  test("answers GET /pushrules/ with the same global ruleset as /pushrules/global/", spec(GET_ALL, "1.0"), async ({ alice }) => {
    const global = await globalRules(alice);
    const res = await alice.get(cs.v3`/pushrules/`);
    expect(res).toHaveStatus(200);
    expect(res.body.global, "the global ruleset of GET /pushrules/").toEqual(global);
  });

  test("answers GET on one server-default rule with that rule", spec(GET_RULE, "1.0"), async ({ alice }) => {
    const listed = (await globalRules(alice)).override?.find((r) => r.rule_id === ".m.rule.suppress_notices");
    const res = await alice.get(rulePath("override", ".m.rule.suppress_notices"));
    expect(res).toHaveStatus(200);
    if (listed) expect(res.body, "the rule as GET /pushrules/global/ lists it").toEqual(listed);
    expect(predefinedProblems(".m.rule.suppress_notices", { override: [res.body] }, alice.userId), "how the rule differs from its definition").toEqual([]);
  });

  test("ranks user-defined rules above the server-default ones, except .m.rule.master above all", spec(GET_GLOBAL, "1.5"), async ({ alice }) => {
    await putRule(alice, "override", "conformance_override", { conditions: [{ kind: "event_match", key: "type", pattern: "org.example.never" }], actions: [] });
    await putRule(alice, "underride", "conformance_underride", { conditions: [{ kind: "event_match", key: "type", pattern: "org.example.never" }], actions: [] });
    await putRule(alice, "content", "conformance_content", { pattern: "conformance", actions: [] });
    const res = await alice.get(cs.v3`/pushrules/global/`);
    expect(res).toHaveStatus(200);
    // "They operate at a lower priority than "user-defined rules", except for the .m.rule.master
    // rule which has always a higher priority than any other rule."
    const override = idsOf(res.body, "override");
    expect(override[0], "the first override rule").toBe(".m.rule.master");
    const misplaced = (["override", "content", "underride"] as const).flatMap((k) => {
      const rules = (res.body as Ruleset)[k] ?? [];
      const mine = rules.findIndex((r) => r.rule_id === `conformance_${k}`);
      if (mine < 0) return [`the user's conformance_${k} is missing from the ${k} rules`];
      return rules.filter((r, i) => r.default && r.rule_id !== ".m.rule.master" && i < mine).map((r) => `${k}/${r.rule_id} comes before the user's conformance_${k}`);
    });
    expect(misplaced, "server-default rules ranked above a user-defined rule").toEqual([]);
  });
});

describe("Creating push rules", () => {
  test("stores a content rule with its pattern, enabled and not default", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const actions = ["notify", { set_tweak: "sound", value: "cakealarm.wav" }];
    const res = await alice.put(rulePath("content", "cake"), { pattern: "cake*lie", actions });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule back", "GET", rulePath("content", "cake"));
    // "When creating push rules, they MUST be enabled by default."
    expect(rule, "the content rule as stored").toEqual({ rule_id: "cake", pattern: "cake*lie", actions, enabled: true, default: false });
  });

  test("stores a room rule whose rule_id is the room ID", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const res = await alice.put(rulePath("room", roomId), { actions: [] });
    expect(res).toHaveStatus(200);
    const rules = await globalRules(alice);
    const rule = rules.room?.find((r) => r.rule_id === roomId);
    expect(rule, "the room rule listed under room").toMatchObject({ rule_id: roomId, actions: [], enabled: true, default: false });
  });

  test("stores a sender rule whose rule_id is the sender's user ID", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const spammer = `@conformance-spambot:${serverNameOf(alice.userId)}`;
    const res = await alice.put(rulePath("sender", spammer), { actions: [] });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule back", "GET", rulePath("sender", spammer));
    expect(rule, "the sender rule as stored").toMatchObject({ rule_id: spammer, actions: [], enabled: true, default: false });
  });

  test("stores an override rule with its conditions", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const conditions = [
      { kind: "event_match", key: "content.body", pattern: "beer" },
      { kind: "room_member_count", is: "<=10" },
    ];
    const actions = ["notify", { set_tweak: "sound", value: "beeroclock.wav" }];
    const res = await alice.put(rulePath("override", "beer"), { conditions, actions });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule back", "GET", rulePath("override", "beer"));
    expect(rule, "the override rule as stored").toEqual({ rule_id: "beer", conditions, actions, enabled: true, default: false });
  });

  test("stores an underride rule with its conditions", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const conditions = [
      { kind: "event_match", key: "content.msgtype", pattern: "m.emote" },
      { kind: "room_member_count", is: ">2" },
    ];
    const actions = ["notify", { set_tweak: "highlight" }];
    const res = await alice.put(rulePath("underride", "emotes"), { conditions, actions });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule back", "GET", rulePath("underride", "emotes"));
    expect(rule, "the underride rule as stored").toEqual({ rule_id: "emotes", conditions, actions, enabled: true, default: false });
  });

  test("stores a rule with event_property_is and event_property_contains conditions", spec(PUT_RULE, "1.7"), async ({ alice }) => {
    const conditions = [
      { kind: "event_property_is", key: "content.m\\.federate", value: false },
      { kind: "event_property_contains", key: "content.alt_aliases", value: "#conformance:example.org" },
    ];
    const res = await alice.put(rulePath("override", "aliases"), { conditions, actions: ["notify"] });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule back", "GET", rulePath("override", "aliases"));
    expect(rule, "the override rule as stored").toEqual({ rule_id: "aliases", conditions, actions: ["notify"], enabled: true, default: false });
  });

  test("stores an override rule given without conditions", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    // Only `actions` is required in the body; "override and underride rules MAY have a list of
    // 'conditions'" and "A rule with no conditions always matches" (#conditions).
    const res = await alice.put(rulePath("override", "always"), { actions: [] });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule back", "GET", rulePath("override", "always"));
    expect(rule, "the override rule as stored").toMatchObject({ rule_id: "always", actions: [], enabled: true, default: false });
    expect(rule.conditions ?? [], "the stored rule's conditions (none were given)").toEqual([]);
  });

  test("updates an existing rule of the same kind and ID instead of adding another", spec(PUT_RULE, "1.5"), async ({ alice }) => {
    await putRule(alice, "content", "tea", { pattern: "tea", actions: ["notify"] });
    const res = await alice.put(rulePath("content", "tea"), { pattern: "coffee", actions: [] });
    expect(res).toHaveStatus(200);
    // "If a rule with the same rule_id already exists among rules of the same kind, it is updated"
    const rules = (await globalRules(alice)).content ?? [];
    const tea = rules.filter((r) => r.rule_id === "tea");
    expect(tea.length, "content rules with the rule_id 'tea'").toBe(1);
    expect(tea[0], "the updated rule").toMatchObject({ pattern: "coffee", actions: [] });
  });
});

describe("Placing push rules", () => {
  // Three content rules created one after another: without before/after each new rule "should
  // be added as the most important user defined rule among rules of the same kind".
  async function threeRules(user: UserClient): Promise<void> {
    for (const id of ["a", "b", "c"]) await putRule(user, "content", id, { pattern: `word${id}`, actions: [] });
  }
  const userOrder = (rules: Ruleset) => idsOf(rules, "content").filter((id) => !id.startsWith("."));

  test("adds a new rule without before or after as the most important user-defined rule of its kind", spec(PUT_RULE, "1.5", { level: "SHOULD" }), async ({ alice }) => {
    await putRule(alice, "content", "a", { pattern: "worda", actions: [] });
    const res = await alice.put(rulePath("content", "b"), { pattern: "wordb", actions: [] });
    expect(res).toHaveStatus(200);
    expect(userOrder(await globalRules(alice)), "user-defined content rules, most important first").toEqual(["b", "a"]);
  });

  test("places a rule created with before as the next-most important rule relative to the named rule", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    await threeRules(alice);
    const before = userOrder(await globalRules(alice));
    const res = await alice.put(rulePath("content", "new"), { pattern: "wordnew", actions: [] }, { query: { before: "a" } });
    expect(res).toHaveStatus(200);
    const expected = [...before];
    expected.splice(before.indexOf("a"), 0, "new");
    expect(userOrder(await globalRules(alice)), `user-defined content rules (were ${before.join(", ")}), most important first`).toEqual(expected);
  });

  test("places a rule created with after as the next-less important rule relative to the named rule", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    await threeRules(alice);
    const before = userOrder(await globalRules(alice));
    const res = await alice.put(rulePath("content", "new"), { pattern: "wordnew", actions: [] }, { query: { after: before[0]! } });
    expect(res).toHaveStatus(200);
    const expected = [...before];
    expected.splice(1, 0, "new");
    expect(userOrder(await globalRules(alice)), `user-defined content rules (were ${before.join(", ")}), most important first`).toEqual(expected);
  });

  test("places a rule created with both before and after relative to the before rule", spec(PUT_RULE, "1.5"), async ({ alice }) => {
    await threeRules(alice);
    const before = userOrder(await globalRules(alice));
    // "If both after and before are provided, the new or updated rule must be the next most
    // important rule with respect to the rule identified by before."
    const res = await alice.put(rulePath("content", "new"), { pattern: "wordnew", actions: [] }, { query: { before: before[2]!, after: before[0]! } });
    expect(res).toHaveStatus(200);
    const expected = [...before];
    expected.splice(2, 0, "new");
    expect(userOrder(await globalRules(alice)), `user-defined content rules (were ${before.join(", ")}), most important first`).toEqual(expected);
  });

  test("refuses to place a rule relative to a server-default rule with 400", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    // "It is not possible to add a rule relative to a predefined server rule."
    const res = await alice.put(rulePath("override", "relative"), { conditions: [], actions: [] }, { query: { before: ".m.rule.suppress_notices" } });
    expect(res).toBeMatrixError(400, undefined, "the endpoint's 400 answers a rule that cannot be configured; the spec fixes no errcode");
    const after = await alice.get(rulePath("override", "relative"));
    expect(after, "the refused rule must not have been created").toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses to place a rule relative to a rule that does not exist with 400", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    // The 400 answer's own example: "before/after rule not found: someRuleId".
    const res = await alice.put(rulePath("content", "relative"), { pattern: "x", actions: [] }, { query: { after: "no_such_rule" } });
    expect(res).toBeMatrixError(400, undefined, "the endpoint documents 400 for a before/after rule that is not found");
  });
});

describe("Refused push rule writes", () => {
  test("refuses to create a rule whose ID starts with a dot", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    // ruleId: "If the string starts with a dot ("."), the request MUST be rejected"
    const res = await alice.put(rulePath("override", ".conformance.rule"), { conditions: [], actions: ["notify"] });
    expect(res).toBeMatrixError(400, undefined, "rule IDs starting with '.' are reserved for server-default rules");
    const after = await alice.get(rulePath("override", ".conformance.rule"));
    expect(after, "the refused rule must not have been created").toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses to replace a server-default rule through PUT", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const res = await alice.put(rulePath("override", ".m.rule.suppress_notices"), { conditions: [], actions: ["notify"] });
    expect(res).toBeMatrixError(400, undefined, "rule IDs starting with '.' are reserved for server-default rules");
    const rule = await alice.step<PushRule>("read the server-default rule", "GET", rulePath("override", ".m.rule.suppress_notices"));
    expect(predefinedProblems(".m.rule.suppress_notices", { override: [rule] }, alice.userId), "the rule after the refused PUT").toEqual([]);
  });

  for (const [what, ruleId] of [
    ["a slash", "con/formance"],
    ["a backslash", "con\\formance"],
  ] as const) {
    test(`refuses to create a rule whose ID contains ${what}`, spec(PUT_RULE, "1.5"), async ({ alice }) => {
      // ruleId: "Slashes ("/") and backslashes ("\") are also not allowed."
      const res = await alice.put(rulePath("content", ruleId), { pattern: "conformance", actions: [] });
      expect(res).toBeMatrixError(400, undefined, `a rule ID containing ${what} is not allowed`);
    });
  }

  test("refuses a rule without actions with 400", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    // The request body's `actions` is required.
    const res = await alice.put(rulePath("content", "noactions"), { pattern: "conformance" });
    expect(res).toBeMatrixError(400, undefined, "actions is a required key of the request body");
    const after = await alice.get(rulePath("content", "noactions"));
    expect(after, "the refused rule must not have been created").toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses a rule whose conditions are not an array with 400", spec(PUT_RULE, "1.0"), async ({ alice }) => {
    const res = await alice.put(rulePath("override", "badconditions"), { conditions: { kind: "event_match" }, actions: [] });
    expect(res).toBeMatrixError(400, undefined, "conditions must be an array of push conditions");
  });
});

describe("Deleting push rules", () => {
  test("deletes a user-defined rule, after which GET answers 404 M_NOT_FOUND", spec(DELETE_RULE, "1.1"), async ({ alice }) => {
    await putRule(alice, "content", "doomed", { pattern: "doomed", actions: [] });
    const res = await alice.delete(rulePath("content", "doomed"));
    expect(res).toHaveStatus(200);
    const after = await alice.get(rulePath("content", "doomed"));
    expect(after, "the deleted rule").toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("answers DELETE of an unknown rule with 404 M_NOT_FOUND", spec(DELETE_RULE, "1.1"), async ({ alice }) => {
    const res = await alice.delete(rulePath("content", "never_created"));
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

describe("Push rules' enabled flag and actions", () => {
  test("reports whether a server-default rule is enabled", spec(GET_ENABLED, "1.0"), async ({ alice }) => {
    const res = await alice.get(rulePath("override", ".m.rule.master", "enabled"));
    expect(res).toHaveStatus(200);
    expect(res.body, ".m.rule.master is disabled by default").toEqual({ enabled: false });
  });

  test("disables a user-defined rule, as its enabled flag and the rule then show", spec(PUT_ENABLED, "1.0"), async ({ alice }) => {
    await putRule(alice, "content", "toggled", { pattern: "toggled", actions: ["notify"] });
    const res = await alice.put(rulePath("content", "toggled", "enabled"), { enabled: false });
    expect(res).toHaveStatus(200);
    const flag = await alice.step<{ enabled: boolean }>("read the enabled flag", "GET", rulePath("content", "toggled", "enabled"));
    expect(flag, "the enabled flag after disabling").toEqual({ enabled: false });
    const rule = await alice.step<PushRule>("read the rule", "GET", rulePath("content", "toggled"));
    expect(rule.enabled, "the rule's enabled after disabling").toBe(false);
  });

  test("enables a server-default rule", spec(PUT_ENABLED, "1.0"), async ({ alice }) => {
    const res = await alice.put(rulePath("override", ".m.rule.master", "enabled"), { enabled: true });
    expect(res).toHaveStatus(200);
    const flag = await alice.step<{ enabled: boolean }>("read the enabled flag", "GET", rulePath("override", ".m.rule.master", "enabled"));
    expect(flag, "the enabled flag of .m.rule.master after enabling it").toEqual({ enabled: true });
  });

  test("answers the actions of a rule", spec(GET_ACTIONS, "1.0"), async ({ alice }) => {
    const actions = ["notify", { set_tweak: "sound", value: "bing" }];
    await putRule(alice, "content", "bing", { pattern: "bing", actions });
    const res = await alice.get(rulePath("content", "bing", "actions"));
    expect(res).toHaveStatus(200);
    expect(res.body, "the rule's actions").toEqual({ actions });
  });

  test("changes the actions of a user-defined rule", spec(PUT_ACTIONS, "1.0"), async ({ alice }) => {
    await putRule(alice, "content", "retuned", { pattern: "retuned", actions: ["notify"] });
    const actions = ["notify", { set_tweak: "highlight" }];
    const res = await alice.put(rulePath("content", "retuned", "actions"), { actions });
    expect(res).toHaveStatus(200);
    const rule = await alice.step<PushRule>("read the rule", "GET", rulePath("content", "retuned"));
    expect(rule, "the rule after its actions changed").toMatchObject({ rule_id: "retuned", pattern: "retuned", actions });
  });

  test("changes the actions of a server-default rule", spec(PUT_ACTIONS, "1.0"), async ({ alice }) => {
    // "This can be used to change the actions of builtin rules."
    const actions = ["notify", { set_tweak: "sound", value: "conformance.wav" }];
    const res = await alice.put(rulePath("underride", ".m.rule.message", "actions"), { actions });
    expect(res).toHaveStatus(200);
    const read = await alice.step<{ actions: Action[] }>("read the actions", "GET", rulePath("underride", ".m.rule.message", "actions"));
    expect(read.actions, "the actions of .m.rule.message after the change").toEqual(actions);
  });
});

describe("Unknown push rules", () => {
  const missing = (kind: Kind) => rulePath(kind, "never_created");
  test("answers GET of an unknown rule with 404 M_NOT_FOUND", spec(GET_RULE, "1.1"), async ({ alice }) => {
    expect(await alice.get(missing("override"))).toBeMatrixError(404, "M_NOT_FOUND");
  });
  test("answers GET of an unknown rule's enabled flag with 404 M_NOT_FOUND", spec(GET_ENABLED, "1.1"), async ({ alice }) => {
    expect(await alice.get(rulePath("content", "never_created", "enabled"))).toBeMatrixError(404, "M_NOT_FOUND");
  });
  test("answers PUT of an unknown rule's enabled flag with 404 M_NOT_FOUND", spec(PUT_ENABLED, "1.1"), async ({ alice }) => {
    expect(await alice.put(rulePath("content", "never_created", "enabled"), { enabled: true })).toBeMatrixError(404, "M_NOT_FOUND");
  });
  test("answers GET of an unknown rule's actions with 404 M_NOT_FOUND", spec(GET_ACTIONS, "1.1"), async ({ alice }) => {
    expect(await alice.get(rulePath("underride", "never_created", "actions"))).toBeMatrixError(404, "M_NOT_FOUND");
  });
  test("answers PUT of an unknown rule's actions with 404 M_NOT_FOUND", spec(PUT_ACTIONS, "1.1"), async ({ alice }) => {
    expect(await alice.put(rulePath("underride", "never_created", "actions"), { actions: [] })).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

describe("Push rules in /sync", () => {
  test("sends the changed push rules as m.push_rules in the account_data of the next /sync", spec("client-server-api/#push-rules-events", "1.0"), async ({ alice }) => {
    await alice.sync();
    await putRule(alice, "content", "synced", { pattern: "synced", actions: ["notify"] });
    // "When a user changes their push rules a m.push_rules event is sent to all clients in the
    // account_data section of their next /sync request. The content of the event is the current
    // push rules for the user."
    let rule: PushRule | undefined;
    await alice.syncUntil("m.push_rules with the new content rule in account_data", (res) => {
      const ev = res.account_data?.events.find((e: { type: string }) => e.type === "m.push_rules");
      rule = (ev?.content?.global as Ruleset | undefined)?.content?.find((r) => r.rule_id === "synced");
      return rule !== undefined;
    });
    expect(rule, "the new rule in m.push_rules").toMatchObject({ rule_id: "synced", pattern: "synced", actions: ["notify"], enabled: true });
  });
});
