// Paginating a room's history with GET /rooms/{roomId}/messages: direction, limit, tokens, filters.
// Spec: client-server-api/#get_matrixclientv3roomsroomidmessages, #syncing.
import { cs, describe, expect, roomWithMessagesAmidTraffic, spec, test, type Body, type MatrixClient } from "../../harness/fixtures/index.ts";

const MESSAGES = "client-server-api/#get_matrixclientv3roomsroomidmessages";

// ---- local helpers ----

// Tests that only read take the worker's `roomWithHistory` (five messages, private_chat, a name and
// a topic; harness/fixtures/shared-rooms.ts); tests that write arrange their own room with
// roomWithMessagesAmidTraffic, the same shape.

/** Follows `end` tokens until a response has none, returning every page. */
async function allPages(client: MatrixClient, roomId: string, query: Record<string, string | number>, maxPages = 40): Promise<Body[]> {
  const pages: Body[] = [];
  let from: string | undefined = query.from as string | undefined;
  for (;;) {
    if (pages.length >= maxPages) throw new Error(`/messages still returned an end token after ${maxPages} pages`);
    const res = await client.get(cs.v3`/rooms/${roomId}/messages`, { query: { ...query, ...(from !== undefined ? { from } : {}) } });
    expect(res).toHaveStatus(200);
    pages.push(res.body);
    if (res.body.end === undefined) return pages;
    from = res.body.end;
  }
}

const chunkEventIds = (chunk: Body[]): string[] => chunk.map((e) => e.event_id);

// ---- direction ----

describe("GET /rooms/{roomId}/messages direction", () => {
  test("dir=b returns events newest first, starting at from", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "b", from: r.after, limit: 3 } });
    expect(res).toHaveStatus(200);
    expect(chunkEventIds(res.body.chunk), "the messages dir=b returns from the newest, newest first").toEqual(r.ids.slice(-3).reverse());
  });

  test("dir=f returns events oldest first, starting at from", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "f", from: r.before, limit: 3 } });
    expect(res).toHaveStatus(200);
    expect(chunkEventIds(res.body.chunk), "the messages dir=f returns from the oldest, oldest first").toEqual(r.ids.slice(0, 3));
  });

  test("start is the token given in from", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "b", from: r.after, limit: 5 } });
    expect(res).toHaveStatus(200);
    expect(res.body.start, "start is the from token").toBe(r.after);
  });
});

// ---- limit and pagination ----

describe("GET /rooms/{roomId}/messages pagination", () => {
  test("limit caps the number of events on every page", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const pages = await allPages(alice, r.roomId, { dir: "b", from: r.after, limit: 2 });
    for (const [i, page] of pages.entries()) expect(page.chunk.length, `events on page ${i + 1}`).toBeLessThanOrEqual(2);
    const seen = pages.flatMap((p) => chunkEventIds(p.chunk));
    for (const id of r.ids) expect(seen, `message ${id} is reached by paging`).toContain(id);
  });

  test("following end pages back through the whole history to m.room.create, each event once, then stops", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const pages = await allPages(alice, r.roomId, { dir: "b", from: r.after, limit: 3 });
    const events = pages.flatMap((p) => p.chunk as Body[]);
    const seen = chunkEventIds(events);
    expect(new Set(seen).size, "no event is returned twice").toBe(seen.length);
    expect(seen.filter((id) => r.ids.includes(id)), "the messages, newest first").toEqual([...r.ids].reverse());
    expect(events.at(-1)?.type, "the oldest event reached is m.room.create").toBe("m.room.create");
  });

  test("when a full page ends at m.room.create, following its end returns no event again", spec(MESSAGES, "1.0"), async ({ alice }) => {
    // Arrange an even number of events in the room, then page back in halves, so that the second
    // page is full and its last event is m.room.create: the boundary where a server that treats
    // its own end token as inclusive repeats the oldest event.
    let r = await roomWithMessagesAmidTraffic(alice, 3);
    const count = async (): Promise<number> => new Set(chunkEventIds((await allPages(alice, r.roomId, { dir: "b", from: r.after, limit: 100 })).flatMap((p) => p.chunk as Body[]))).size;
    let total = await count();
    if (total % 2 === 1) {
      const extra = await alice.sendMessage(r.roomId, "evens the count");
      r = { ...r, ids: [...r.ids, extra], after: await alice.syncPast(r.roomId, extra) };
      total = await count();
    }
    expect(total % 2, `precondition: an even number of events to page through (got ${total})`).toBe(0);
    const pages = await allPages(alice, r.roomId, { dir: "b", from: r.after, limit: total / 2 });
    expect(pages[1]?.chunk.at(-1)?.type, "the second page is full and ends at m.room.create").toBe("m.room.create");
    const seen = chunkEventIds(pages.flatMap((p) => p.chunk as Body[]));
    const repeated = seen.filter((id, i) => seen.indexOf(id) !== i);
    expect(repeated, `events returned twice across ${pages.length} pages of ${total / 2}`).toEqual([]);
  });

  test("following end forwards reaches the newest event and then stops", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const pages = await allPages(alice, r.roomId, { dir: "f", from: r.before, limit: 2 });
    expect(chunkEventIds(pages.flatMap((p) => p.chunk as Body[])), "the messages paging forwards reaches, oldest first").toEqual(r.ids);
  });

  test("to stops the events at the given token", spec(MESSAGES, "1.0"), async ({ alice }) => {
    const r = await roomWithMessagesAmidTraffic(alice, 2);
    const later = await alice.sendMessage(r.roomId, "after the to token");
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "f", from: r.before, to: r.after, limit: 10 } });
    expect(res).toHaveStatus(200);
    expect(chunkEventIds(res.body.chunk), "the messages up to the to token, oldest first").toEqual(r.ids);
    expect(chunkEventIds(res.body.chunk), "events after the to token are not returned").not.toContain(later);
  });
});

// ---- from omitted (1.3) ----

describe("GET /rooms/{roomId}/messages without from", () => {
  test("dir=b starts at the newest visible event", spec(MESSAGES, "1.3"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "b", limit: 2 } });
    expect(res).toHaveStatus(200);
    expect(chunkEventIds(res.body.chunk), "the messages dir=b without from returns, newest first").toEqual(r.ids.slice(-2).reverse());
  });

  test("dir=f starts at the first visible event, m.room.create for the creator", spec(MESSAGES, "1.3"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room's creator; this test only reads
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "f", limit: 1 } });
    expect(res).toHaveStatus(200);
    expect(res.body.chunk, "one event").toHaveLength(1);
    expect(res.body.chunk[0].type, "the first event dir=f without from returns").toBe("m.room.create");
  });
});

// ---- filter and access ----

describe("GET /rooms/{roomId}/messages filter and access", () => {
  test("a RoomEventFilter with types returns only events of those types", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r }) => {
    const alice = r.owner; // the room (with a name and a topic) is alice's; this test only reads
    const res = await alice.get(cs.v3`/rooms/${r.roomId}/messages`, {
      query: { dir: "b", from: r.after, limit: 50, filter: JSON.stringify({ types: ["m.room.message"] }) },
    });
    expect(res).toHaveStatus(200);
    expect((res.body.chunk as Body[]).map((e) => e.type), "every event is an m.room.message").toEqual(res.body.chunk.map(() => "m.room.message"));
    expect(chunkEventIds(res.body.chunk), "the messages the types filter keeps, newest first").toEqual([...r.ids].reverse());
  });

  test("a user who is not in the room gets 403", spec(MESSAGES, "1.0"), async ({ roomWithHistory: r, bob }) => {
    // The shared room is private_chat; bob was never in it.
    const res = await bob.get(cs.v3`/rooms/${r.roomId}/messages`, { query: { dir: "b", from: r.after } });
    expect(res).toHaveStatus(403);
  });
});
