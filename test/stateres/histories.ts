// Generators of valid room histories for the property tests.
//
// A history is built deterministically from a plan (a list of steps fast-check generates and
// shrinks). Each step asks one user to do one thing on one branch: join, leave, invite, kick,
// ban, unban, knock, change power levels or join rules, set the topic, send a message, fork a new
// branch, or merge two branches. The builder keeps the state after every branch tip (resolving at
// merges with the model), authorises each candidate event against the state before it, and drops
// the candidates the authorisation rules reject, so every event in a history was valid when sent.
// Auth events are selected from the state before each event. Users live on two servers;
// timestamps advance by 0 or 1, so they clash often.

import fc from "fast-check";
import {
  EventStore,
  buildRoom,
  checkAuthRules,
  eventStateKey,
  resolveState,
  selectAuthEvents,
  stateKey,
  type Pdu,
  type StateMap,
} from "../../harness/stateres/index.ts";
import { type RoomVersionRules } from "../../harness/crypto/index.ts";

export const USERS = ["@alice:a.example", "@bob:a.example", "@carol:b.example", "@dave:b.example", "@erin:a.example"] as const;

export type Action =
  | "join"
  | "leave"
  | "invite"
  | "kick"
  | "ban"
  | "unban"
  | "knock"
  | "power"
  | "power_named"
  | "join_rules"
  | "topic"
  | "message"
  | "fork"
  | "merge";

export const ACTIONS: readonly Action[] = [
  "join", "join", "leave", "invite", "kick", "ban", "unban", "knock", "power", "power", "power_named",
  "join_rules", "topic", "topic", "message", "fork", "fork", "merge", "merge",
];

export interface Step {
  action: number;
  branch: number;
  actor: number;
  target: number;
  value: number;
  tsStep: number;
}

export interface History {
  readonly rules: RoomVersionRules;
  readonly events: Pdu[];
  /** The current tips of the branches (forward extremities). */
  readonly tips: string[];
  /** The state after each tip. */
  readonly states: Map<string, StateMap>;
  readonly store: EventStore;
  readonly createId: string;
}

export const stepArb: fc.Arbitrary<Step> = fc.record({
  action: fc.nat({ max: ACTIONS.length - 1 }),
  branch: fc.nat({ max: 3 }),
  actor: fc.nat({ max: USERS.length - 1 }),
  target: fc.nat({ max: USERS.length - 1 }),
  value: fc.nat({ max: 4 }),
  tsStep: fc.nat({ max: 1 }),
});

export function planArb(maxSteps = 24, linear = false): fc.Arbitrary<Step[]> {
  const steps = fc.array(stepArb, { maxLength: maxSteps, size: "max" });
  return linear
    ? steps.map((s) => s.map((step) => ({ ...step, branch: 0, action: forkOrMergeToMessage(step.action) })))
    : steps;
}

function forkOrMergeToMessage(action: number): number {
  const a = ACTIONS[action];
  return a === "fork" || a === "merge" ? ACTIONS.indexOf("message") : action;
}

const LEVELS = [0, 25, 50, 75, 100];
const JOIN_RULES = ["public", "invite", "knock", "restricted", "knock_restricted"];
const IDCHARS = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

export interface HistoryOptions {
  /**
   * The creator only creates the room and hands power to bob; she never acts again and is never
   * named in the power levels. Such a history means the same in every room version (a v12 creator
   * is all-powerful, a v1-v11 creator listed nowhere has users_default), which lets the same events
   * be resolved under several versions.
   */
  readonly passiveCreator?: boolean;
}

/** Builds the history a plan describes. Pure and deterministic. */
export function buildHistory(rules: RoomVersionRules, plan: readonly Step[], options: HistoryOptions = {}): History {
  const creator = USERS[0];
  const passive = options.passiveCreator ?? false;
  const v12 = rules.auth.infiniteCreatorPower;
  const events: Pdu[] = [];
  const store = new EventStore();
  let ts = 1000;
  let n = 0;
  // Event IDs whose order does not follow creation order, so ID tie-breaks get exercised.
  const newId = (server: string): string => {
    n++;
    const a = IDCHARS[(n * 7) % IDCHARS.length]!;
    const b = IDCHARS[(n * 13) % IDCHARS.length]!;
    return `$${a}${b}${n}:${server}`;
  };
  const server = (user: string): string => user.slice(user.indexOf(":") + 1);

  const createContent: Record<string, unknown> = passive ? { creator } : { room_version: rules.id };
  if (!rules.auth.creatorIsSender) createContent["creator"] = creator;
  const roomCreate: Pdu = {
    event_id: newId("a.example"),
    type: "m.room.create",
    state_key: "",
    sender: creator,
    content: createContent,
    prev_events: [],
    auth_events: [],
    origin_server_ts: ts,
  };

  const tips: string[] = [];
  const states = new Map<string, Map<string, string>>();

  const authState = (state: StateMap) => ({
    get: (type: string, key: string) => {
      const id = state.get(stateKey(type, key));
      return id === undefined ? undefined : store.get(id);
    },
  });

  /** Adds an event after `prevs` if the rules allow it in the state before it. */
  const emit = (
    prevs: string[],
    before: Map<string, string>,
    partial: Omit<Pdu, "event_id" | "prev_events" | "auth_events" | "origin_server_ts">,
    tsStep: number,
    force = false,
  ): string | undefined => {
    const draft = { ...partial, event_id: "", prev_events: prevs, origin_server_ts: ts + tsStep };
    const event: Pdu = { ...draft, event_id: newId(server(partial.sender)), auth_events: selectAuthEvents(draft, before, rules) };
    if (!force && !checkAuthRules(event, authState(before), { rules, roomCreate }).allowed) return undefined;
    ts += tsStep;
    events.push(event);
    store.add(event);
    const after = new Map(before);
    if (event.state_key !== undefined) after.set(eventStateKey(event), event.event_id);
    states.set(event.event_id, after);
    return event.event_id;
  };

  // The room's beginning: create, the creator's join, power levels, public join rules.
  events.push(roomCreate);
  store.add(roomCreate);
  states.set(roomCreate.event_id, new Map([[stateKey("m.room.create", ""), roomCreate.event_id]]));
  let tip = roomCreate.event_id;
  const chainBase = (partial: Omit<Pdu, "event_id" | "prev_events" | "auth_events" | "origin_server_ts">): void => {
    tip = emit([tip], new Map(states.get(tip)!), partial, 1, true)!;
  };
  chainBase({ type: "m.room.member", state_key: creator, sender: creator, content: { membership: "join" } });
  if (passive) {
    chainBase({ type: "m.room.join_rules", state_key: "", sender: creator, content: { join_rule: "public" } });
    chainBase({
      type: "m.room.power_levels",
      state_key: "",
      sender: creator,
      content: { users: { [USERS[1]]: 100, [USERS[2]]: 50 }, state_default: 50, events_default: 0 },
    });
  } else {
    chainBase({
      type: "m.room.power_levels",
      state_key: "",
      sender: creator,
      content: { users: v12 ? { [USERS[1]]: 50 } : { [creator]: 100, [USERS[1]]: 50 }, state_default: 50, events_default: 0 },
    });
    chainBase({ type: "m.room.join_rules", state_key: "", sender: creator, content: { join_rule: "public" } });
  }
  chainBase({ type: "m.room.member", state_key: USERS[1], sender: USERS[1], content: { membership: "join" } });
  tips.push(tip);

  for (const step of plan) {
    const action = ACTIONS[step.action]!;
    const b = step.branch % tips.length;
    const branchTip = tips[b]!;
    const before = states.get(branchTip)!;
    // Actors and targets are picked among the users for whom the action can make sense in the
    // state before the event (joined users act, outsiders join or knock, ...), so that most
    // steps produce an event; the authorisation rules still have the last word.
    const membership = (u: string): string => {
      const id = before.get(stateKey("m.room.member", u));
      const m = id === undefined ? undefined : store.get(id).content["membership"];
      return typeof m === "string" ? m : "leave";
    };
    const candidates = USERS.filter((u) => !(passive && u === creator));
    const pick = (pool: readonly string[], i: number): string => {
      const list = pool.length > 0 ? pool : candidates;
      return list[i % list.length]!;
    };
    const joined = candidates.filter((u) => membership(u) === "join");
    const outside = candidates.filter((u) => membership(u) !== "join" && membership(u) !== "ban");
    const actor = action === "join" || action === "knock" ? pick(outside, step.actor) : pick(joined, step.actor);
    const others = candidates.filter((u) => u !== actor);
    const target =
      action === "invite"
        ? pick(others.filter((u) => membership(u) !== "join" && membership(u) !== "ban"), step.target)
        : action === "kick"
          ? pick(others.filter((u) => membership(u) === "join"), step.target)
          : action === "unban"
            ? pick(others.filter((u) => membership(u) === "ban"), step.target)
            : pick(others, step.target);
    const prevs = [branchTip];
    const add = (partial: Omit<Pdu, "event_id" | "prev_events" | "auth_events" | "origin_server_ts">): void => {
      const id = emit(prevs, new Map(before), partial, step.tsStep);
      if (id !== undefined) tips[b] = id;
    };
    const memberEvent = (sender: string, key: string, membership: string, extra: Record<string, unknown> = {}) =>
      ({ type: "m.room.member", state_key: key, sender, content: { membership, ...extra } }) as const;
    const currentPl = (): Record<string, unknown> => {
      const id = before.get(stateKey("m.room.power_levels", ""));
      return id ? { ...store.get(id).content } : {};
    };
    switch (action) {
      case "join": {
        const via = pick(joined, step.target);
        add(memberEvent(actor, actor, "join", rules.auth.restricted && step.value % 2 === 1 ? { join_authorised_via_users_server: via } : {}));
        break;
      }
      case "leave":
        add(memberEvent(actor, actor, "leave"));
        break;
      case "invite":
        add(memberEvent(actor, target, "invite"));
        break;
      case "kick":
        add(memberEvent(actor, target, "leave"));
        break;
      case "ban":
        add(memberEvent(actor, target, "ban"));
        break;
      case "unban":
        add(memberEvent(actor, target, "leave"));
        break;
      case "knock":
        add(memberEvent(actor, actor, "knock"));
        break;
      case "power": {
        const pl = currentPl();
        const users = { ...((pl["users"] as Record<string, unknown> | undefined) ?? {}) };
        if (!((v12 || passive) && target === creator)) users[target] = LEVELS[step.value]!;
        add({ type: "m.room.power_levels", state_key: "", sender: actor, content: { ...pl, users } });
        break;
      }
      case "power_named": {
        const pl = currentPl();
        const name = ["ban", "kick", "invite", "state_default", "events_default"][step.target % 5]!;
        add({ type: "m.room.power_levels", state_key: "", sender: actor, content: { ...pl, [name]: LEVELS[step.value]! } });
        break;
      }
      case "join_rules": {
        const rule = JOIN_RULES[step.value]!;
        add({ type: "m.room.join_rules", state_key: "", sender: actor, content: { join_rule: rule, ...(rule.includes("restricted") ? { allow: [] } : {}) } });
        break;
      }
      case "topic":
        add({ type: "m.room.topic", state_key: "", sender: actor, content: { topic: `t${step.value}` } });
        break;
      case "message":
        add({ type: "m.room.message", sender: actor, content: { body: `m${step.value}` } });
        break;
      case "fork":
        if (tips.length < 4) tips.push(branchTip);
        break;
      case "merge": {
        const other = (b + 1 + step.target) % tips.length;
        if (other === b || tips[other] === branchTip) break;
        const otherTip = tips[other]!;
        const merged = resolveState([before, states.get(otherTip)!], store, rules, { roomCreateId: roomCreate.event_id });
        // The merge is a message from the first user, starting with the actor, allowed to send one.
        for (let i = 0; i < USERS.length; i++) {
          const sender = USERS[(step.actor + i) % USERS.length]!;
          if (passive && sender === creator) continue;
          const id = emit([branchTip, otherTip], merged, { type: "m.room.message", sender, content: { body: "merge" } }, step.tsStep);
          if (id !== undefined) {
            tips[b] = id;
            tips.splice(other, 1);
            break;
          }
        }
        break;
      }
    }
  }
  const uniqueTips = [...new Set(tips)];
  const tipStates = new Map<string, StateMap>();
  for (const t of uniqueTips) tipStates.set(t, states.get(t)!);
  return { rules, events, tips: uniqueTips, states: tipStates, store, createId: roomCreate.event_id };
}

/** A scenario the `stateres` command can replay: the history, resolved at its tips. */
export function historyScenario(h: History, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { room_version: h.rules.id, events: h.events, resolve_at: h.tips, ...extra };
}

/** Recomputes the states at the tips from the events alone (the walk of the model). */
export function walkStates(h: History, events: readonly Pdu[] = h.events): ReadonlyMap<string, StateMap> {
  return buildRoom(events, h.rules, { keepStatesFor: h.tips }).stateAfter;
}
