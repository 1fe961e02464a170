// GET /sync: initial and incremental syncs, timeline limits and gaps, left rooms, long-polling and
// filters uploaded with POST /user/{userId}/filter.
// Spec: client-server-api/#syncing, #get_matrixclientv3sync, #filtering, #leaving-rooms.
import { cs, describe, expect, ROOM_WITH_HISTORY, skipIfLeaveForgets, spec, test, type ClientEvent, type MatrixClient, type SyncResponse } from "../../harness/fixtures/index.ts";

// Tests whose requirement is #syncing or #leaving-rooms prose still cite the sync operation: their
// act is GET /sync.
const SYNC = "client-server-api/#get_matrixclientv3sync";

// ---- local helpers ----

/** One /sync request as the test's act: no stored position, everything explicit. */
async function syncOnce(client: MatrixClient, query: { since?: string; filter?: unknown; full_state?: boolean; timeout?: number } = {}): Promise<SyncResponse> {
  const filter = query.filter === undefined ? undefined : typeof query.filter === "string" ? query.filter : JSON.stringify(query.filter);
  const res = await client.get<SyncResponse>(cs.v3`/sync`, {
    query: { since: query.since, filter, full_state: query.full_state, timeout: query.timeout ?? 0 },
  });
  expect(res).toHaveStatus(200);
  return res.body;
}

function joined(res: SyncResponse, roomId: string) {
  return res.rooms?.join?.[roomId];
}

function timelineIds(res: SyncResponse, roomId: string): string[] {
  return (joined(res, roomId)?.timeline?.events ?? []).map((e) => e.event_id);
}

/**
 * A room with a name and `n` messages; returns the message IDs, oldest first. Returns once the
 * client's own /sync has shown the room's last event (a server may make an event visible a moment
 * after its send returns), so the test's act sees the arranged room whole.
 */
async function roomWithMessages(client: MatrixClient, n: number, createBody: Record<string, unknown> = {}): Promise<{ roomId: string; ids: string[] }> {
  const roomId = await client.createRoom({ name: "sync room", ...createBody });
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) ids.push(await client.sendMessage(roomId, `message ${i}`));
  await client.syncPast(roomId, n > 0 ? ids[n - 1]! : await client.sendEvent(roomId, "org.matrix_conformance.marker", {}));
  return { roomId, ids };
}

// ---- initial and incremental ----

describe("GET /sync initial and incremental", () => {
  test("an initial sync lists a joined room with its state and timeline", spec(SYNC, "1.0"), async ({ roomWithHistory: { roomId, ids, owner: alice } }) => {
    // The worker's shared room (five messages, a name; harness/fixtures/shared-rooms.ts): this test only reads.
    const res = await syncOnce(alice);
    const room = joined(res, roomId);
    expect(room, "the room is under rooms.join").toBeDefined();
    expect(timelineIds(res, roomId), "the timeline holds the latest message").toContain(ids.at(-1));
    const everything = [...(room!.state?.events ?? []), ...(room!.timeline?.events ?? [])];
    for (const type of ["m.room.create", "m.room.power_levels", "m.room.name"]) {
      expect(everything.map((e) => e.type), `${type} is in state or timeline`).toContain(type);
    }
  });

  test("an incremental sync from next_batch returns only the events after it", spec(SYNC, "1.0"), async ({ alice }) => {
    const { roomId, ids } = await roomWithMessages(alice, 1);
    const first = await syncOnce(alice);
    const newer = await alice.sendMessage(roomId, "after the first sync");
    // Follow /sync from next_batch (long-polling, bounded) until the new message shows: a server
    // may make an accepted event visible to /sync a moment after the send returns.
    alice.since = first.next_batch;
    const seen: string[] = [];
    const res = await alice.syncUntil("the new message in an incremental sync", (r) => {
      seen.push(...timelineIds(r, roomId));
      return seen.includes(newer);
    });
    expect(seen, "the new message").toContain(newer);
    expect(seen, "the message from before next_batch").not.toContain(ids[0]);
    expect(res.next_batch, "a new position").not.toBe(first.next_batch);
  });

  test("with full_state, an incremental sync returns the room's whole state again", spec(SYNC, "1.0"), async ({ alice }) => {
    const { roomId } = await roomWithMessages(alice, 1);
    const first = await syncOnce(alice);
    await alice.syncPast(roomId, await alice.sendMessage(roomId, "after the first sync"));
    const res = await syncOnce(alice, { since: first.next_batch, full_state: true });
    const room = joined(res, roomId);
    const everything = [...(room?.state?.events ?? []), ...(room?.timeline?.events ?? [])];
    for (const type of ["m.room.create", "m.room.power_levels", "m.room.name", "m.room.member"]) {
      expect(everything.map((e) => e.type), `${type} is sent again`).toContain(type);
    }
  });
});

// ---- timeline limit and gaps ----

describe("GET /sync timeline limit", () => {
  test("a timeline limit in an inline filter caps an initial sync's timeline to the newest events and sets limited", spec(SYNC, "1.0"), async ({ roomWithHistory: { roomId, ids, owner: alice } }) => {
    // The worker's shared room (five messages, a name; harness/fixtures/shared-rooms.ts): this test only reads.
    const res = await syncOnce(alice, { filter: { room: { timeline: { limit: 2 } } } });
    const timeline = joined(res, roomId)?.timeline;
    expect(timeline, "the room's timeline").toBeDefined();
    const got = timeline!.events.map((e) => e.event_id);
    expect(got.length, "events in the timeline").toBeGreaterThan(0);
    expect(got.length, "events in the timeline").toBeLessThanOrEqual(2);
    expect(got, "the most recent events, oldest first").toEqual(ids.slice(-got.length));
    expect(timeline!.limited, "more happened than the limit let through").toBe(true);
  });

  test("a limited initial sync's state is the room state at the start of the timeline", spec(SYNC, "1.0"), async ({ roomWithHistory: { roomId, owner: alice } }) => {
    // The worker's shared room (five messages, a name; harness/fixtures/shared-rooms.ts): this test only reads.
    const res = await syncOnce(alice, { filter: { room: { timeline: { limit: 1 } } } });
    const state = joined(res, roomId)?.state?.events ?? [];
    expect(state.map((e) => e.type), "m.room.create in state").toContain("m.room.create");
    expect(state.find((e) => e.type === "m.room.name")?.content.name, "the room name in the state at the start of the timeline").toBe(ROOM_WITH_HISTORY.name);
    expect(state.some((e) => e.type === "m.room.member" && e.state_key === alice.userId), "the syncing user's membership").toBe(true);
  });

  test("an incremental sync with more new events than the limit returns the newest ones and sets limited", spec(SYNC, "1.0"), async ({ alice }) => {
    const { roomId } = await roomWithMessages(alice, 0);
    const first = await syncOnce(alice);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await alice.sendMessage(roomId, `burst ${i}`));
    await alice.syncPast(roomId, ids[4]!);
    const res = await syncOnce(alice, { since: first.next_batch, filter: { room: { timeline: { limit: 2 } } } });
    const timeline = joined(res, roomId)?.timeline;
    const got = (timeline?.events ?? []).map((e) => e.event_id);
    expect(got.length, "new events in the limited timeline").toBeGreaterThan(0);
    expect(got.length, "new events in the timeline, at most the limit").toBeLessThanOrEqual(2);
    expect(got, "the most recent events, oldest first").toEqual(ids.slice(-got.length));
    expect(timeline?.limited, "more happened than the limit let through").toBe(true);
  });

  test("a limited incremental sync carries the state changes made in the gap", spec(SYNC, "1.0"), async ({ alice }) => {
    const { roomId } = await roomWithMessages(alice, 0, { name: "old name" });
    const first = await syncOnce(alice);
    await alice.sendState(roomId, "m.room.name", "", { name: "renamed in the gap" });
    let last = "";
    for (let i = 1; i <= 4; i++) last = await alice.sendMessage(roomId, `after the rename ${i}`);
    await alice.syncPast(roomId, last);
    const res = await syncOnce(alice, { since: first.next_batch, filter: { room: { timeline: { limit: 2 } } } });
    const room = joined(res, roomId);
    expect(room?.timeline?.limited, "the timeline was limited").toBe(true);
    expect(room?.timeline?.events.some((e) => e.type === "m.room.name"), "the rename fell in the gap").toBe(false);
    const name = room?.state?.events.find((e) => e.type === "m.room.name");
    expect(name?.content.name, "the gap's state delta").toBe("renamed in the gap");
  });

  test("an incremental sync whose new events fit in the limit is not limited", spec(SYNC, "1.0"), async ({ alice }) => {
    const { roomId } = await roomWithMessages(alice, 1);
    const first = await syncOnce(alice);
    const id = await alice.sendMessage(roomId, "just one");
    await alice.syncPast(roomId, id);
    const res = await syncOnce(alice, { since: first.next_batch, filter: { room: { timeline: { limit: 10 } } } });
    expect(timelineIds(res, roomId), "the new event, and only it, in the timeline").toEqual([id]);
    expect(joined(res, roomId)?.timeline?.limited ?? false, "a timeline holding every new event is not limited").toBe(false);
  });
});

// ---- left rooms ----

describe("GET /sync and left rooms", () => {
  test("with include_leave, a room left since the last sync is under rooms.leave with the leave event", spec(SYNC, "1.0"), async ({ alice, bob, skip }) => {
    await skipIfLeaveForgets(bob, skip, "and forgotten rooms never appear in /sync");
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await bob.syncUntil("bob's join in /sync", (r) => joined(r, roomId) !== undefined);
    const first = await syncOnce(bob);
    expect(joined(first, roomId), "precondition: bob sees the room as joined").toBeDefined();
    await bob.leave(roomId);
    await alice.syncUntilMembership(roomId, bob.userId, "leave");
    const res = await syncOnce(bob, { since: first.next_batch, filter: { room: { include_leave: true } } });
    const left = res.rooms?.leave?.[roomId];
    expect(left, "the room is under rooms.leave").toBeDefined();
    expect(res.rooms?.join?.[roomId], "the room is no longer under rooms.join").toBeUndefined();
    const events: ClientEvent[] = [...(left!.timeline?.events ?? []), ...(left!.state?.events ?? [])];
    const leave = events.find((e) => e.type === "m.room.member" && e.state_key === bob.userId && e.content.membership === "leave");
    expect(leave, "bob's leave event").toBeDefined();
  });

  test("without include_leave, an initial sync does not list a room the user left", spec(SYNC, "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await bob.leave(roomId);
    await alice.syncUntilMembership(roomId, bob.userId, "leave");
    const res = await syncOnce(bob);
    expect(res.rooms?.join?.[roomId], "not under rooms.join").toBeUndefined();
    expect(res.rooms?.leave?.[roomId], "not under rooms.leave").toBeUndefined();
  });
});

// ---- long-polling ----

describe("GET /sync long-polling", () => {
  test("a long-polling sync returns the event that arrives while it waits", spec(SYNC, "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await bob.sync(); // sets bob's position
    const waiting = bob.syncUntil("alice's message", (res) => (res.rooms?.join?.[roomId]?.timeline?.events ?? []).some((e) => e.sender === alice.userId && e.type === "m.room.message"), { timeoutMs: 15_000 });
    const sent = await alice.sendMessage(roomId, "wake up");
    const res = await waiting;
    expect(timelineIds(res, roomId), "the timeline the long poll returns holds the event sent while it waited").toContain(sent);
  });

  test("with timeout=0 and nothing new, the room's timeline is empty", spec(SYNC, "1.0"), async ({ roomWithHistory: { roomId, owner: alice } }) => {
    // The worker's shared room (five messages, a name; harness/fixtures/shared-rooms.ts): this test only reads.
    const first = await syncOnce(alice);
    const res = await syncOnce(alice, { since: first.next_batch, timeout: 0 });
    expect(timelineIds(res, roomId), "the timeline of an incremental sync with nothing new").toEqual([]);
  });
});

// ---- filters ----

describe("POST /user/{userId}/filter", () => {
  test("returns a filter ID that does not start with {, and GET returns the uploaded definition", spec("client-server-api/#post_matrixclientv3useruseridfilter", "1.0"), async ({ alice }) => {
    const definition = { room: { timeline: { limit: 7, types: ["m.room.message"] } }, presence: { types: ["m.presence"] } };
    const up = await alice.post(cs.v3`/user/${alice.userId}/filter`, definition);
    expect(up).toHaveStatus(200);
    const filterId = up.body.filter_id as string;
    expect(filterId.startsWith("{"), `filter ID ${filterId}`).toBe(false);
    const got = await alice.get(cs.v3`/user/${alice.userId}/filter/${filterId}`);
    expect(got).toHaveStatus(200);
    expect(got.body.room?.timeline?.limit, "the stored filter's room.timeline.limit").toBe(7);
    expect(got.body.room?.timeline?.types, "the stored filter's room.timeline.types").toEqual(["m.room.message"]);
    expect(got.body.presence?.types, "the stored filter's presence.types").toEqual(["m.presence"]);
  });

  test("a filter used by its ID applies to /sync", spec(SYNC, "1.0"), async ({ alice }) => {
    const { roomId, ids } = await roomWithMessages(alice, 2);
    const up = await alice.post(cs.v3`/user/${alice.userId}/filter`, { room: { timeline: { limit: 10, types: ["m.room.message"] } } });
    expect(up).toHaveStatus(200);
    const res = await syncOnce(alice, { filter: up.body.filter_id });
    const events = joined(res, roomId)?.timeline?.events ?? [];
    expect(events.map((e) => e.type), "only m.room.message in the timeline").toEqual(events.map(() => "m.room.message"));
    expect(events.map((e) => e.event_id), "the messages the stored filter lets through, oldest first").toEqual(ids);
  });

  test("GET of a filter ID that was never issued answers 404", spec("client-server-api/#get_matrixclientv3useruseridfilterfilterid", "1.0"), async ({ alice }) => {
    // A numeric ID, the shape some servers issue, so that the only thing wrong with it is that it is unknown.
    const res = await alice.get(cs.v3`/user/${alice.userId}/filter/${"9007199254740991"}`);
    expect(res).toHaveStatus(404);
  });
});
