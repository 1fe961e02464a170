// Ephemeral room events: typing notifications and receipts, as other members see them in /sync.
// Spec: client-server-api/#typing-notifications, #receipts.
import { cs, describe, ephemeral, expect, spec, test, type Body, type MatrixClient } from "../../harness/fixtures/index.ts";

const PUT_TYPING = "client-server-api/#put_matrixclientv3roomsroomidtypinguserid";
const POST_RECEIPT = "client-server-api/#post_matrixclientv3roomsroomidreceiptreceipttypeeventid";

// ---- local helpers ----

/**
 * A public room created by `owner` that every other client has joined; each has synced once. Returns
 * once the owner's /sync has shown every join (a server may make a join visible to /sync a moment
 * after it returns), so typing and receipts go to a room whose members /sync already knows.
 */
async function publicRoomJoinedBy(owner: MatrixClient, ...others: MatrixClient[]): Promise<string> {
  const roomId = await owner.createRoom({ preset: "public_chat" });
  for (const c of others) await c.joinRoom(roomId);
  const pending = new Set(others.map((c) => c.userId));
  await owner.syncUntil("every member's join", (r) => {
    const room = r.rooms?.join?.[roomId];
    for (const e of [...(room?.state?.events ?? []), ...(room?.timeline?.events ?? [])]) {
      if (e.type === "m.room.member" && e.content?.membership === "join") pending.delete(e.state_key);
    }
    return pending.size === 0;
  });
  for (const c of others) await c.sync();
  return roomId;
}

/** The receipt content a user has for an event in an m.receipt event, if any. */
function receiptOf(ev: Body, eventId: string, type: string, userId: string): Body | undefined {
  return ev.content?.[eventId]?.[type]?.[userId];
}

// ---- typing ----

describe("PUT /rooms/{roomId}/typing/{userId}", () => {
  test("a typing user appears in m.typing user_ids in another member's /sync ephemeral events", spec(PUT_TYPING, "1.0"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const res = await alice.put(cs.v3`/rooms/${roomId}/typing/${alice.userId}`, { typing: true, timeout: 30_000 });
    expect(res).toHaveStatus(200);
    await bob.syncUntil("m.typing listing alice", (r) => ephemeral(r, roomId, "m.typing").some((e) => e.content.user_ids.includes(alice.userId)));
  });

  test("typing false removes the user from m.typing user_ids", spec(PUT_TYPING, "1.0"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    await alice.step("start typing", "PUT", cs.v3`/rooms/${roomId}/typing/${alice.userId}`, { body: { typing: true, timeout: 30_000 } });
    await bob.syncUntil("m.typing listing alice", (r) => ephemeral(r, roomId, "m.typing").some((e) => e.content.user_ids.includes(alice.userId)));
    const res = await alice.put(cs.v3`/rooms/${roomId}/typing/${alice.userId}`, { typing: false });
    expect(res).toHaveStatus(200);
    await bob.syncUntil("m.typing without alice", (r) => ephemeral(r, roomId, "m.typing").some((e) => !e.content.user_ids.includes(alice.userId)));
  });

  test("setting typing for a different user is refused with a 4xx error and has no effect", spec(PUT_TYPING, "1.0"), async ({ alice, bob, charlie }) => {
    // The endpoint lists no error for this case, so any 4xx standard error response is accepted
    // (Synapse answers 400 M_FORBIDDEN); the test also checks bob is never shown as typing.
    const roomId = await publicRoomJoinedBy(alice, bob, charlie);
    const res = await alice.put(cs.v3`/rooms/${roomId}/typing/${bob.userId}`, { typing: true, timeout: 30_000 });
    expect(res.status, `status ${res.status}`).toBeGreaterThanOrEqual(400);
    expect(res.status, `status ${res.status}`).toBeLessThan(500);
    expect(typeof res.body?.errcode, "a standard error response").toBe("string");
    // alice's own typing comes after the refused request, so by the time charlie sees it, bob's would have shown.
    await alice.step("start typing", "PUT", cs.v3`/rooms/${roomId}/typing/${alice.userId}`, { body: { typing: true, timeout: 30_000 } });
    const typists = new Set<string>();
    await charlie.syncUntil("m.typing listing alice", (r) => {
      for (const e of ephemeral(r, roomId, "m.typing")) for (const u of e.content.user_ids) typists.add(u);
      return typists.has(alice.userId);
    });
    expect([...typists], "users charlie saw typing").not.toContain(bob.userId);
  });
});

// ---- receipts ----

describe("POST /rooms/{roomId}/receipt/{receiptType}/{eventId}", () => {
  test("an m.read receipt appears as m.receipt in another member's /sync ephemeral events", spec(POST_RECEIPT, "1.0"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const eventId = await alice.sendMessage(roomId, "read me");
    const res = await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read/${eventId}`, {});
    expect(res).toHaveStatus(200);
    let receipt: Body | undefined;
    await alice.syncUntil("bob's m.read receipt", (r) => {
      receipt = ephemeral(r, roomId, "m.receipt").map((e) => receiptOf(e, eventId, "m.read", bob.userId)).find((x) => x !== undefined);
      return receipt !== undefined;
    });
    expect(typeof receipt!.ts, "the server sets ts").toBe("number");
    expect(receipt!.thread_id, "an unthreaded receipt has no thread_id").toBeUndefined();
  });

  test("a threaded receipt for the main timeline carries thread_id main", spec(POST_RECEIPT, "1.4"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const eventId = await alice.sendMessage(roomId, "main timeline");
    expect(await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read/${eventId}`, { thread_id: "main" })).toHaveStatus(200);
    let receipt: Body | undefined;
    await alice.syncUntil("bob's threaded receipt", (r) => {
      receipt = ephemeral(r, roomId, "m.receipt").map((e) => receiptOf(e, eventId, "m.read", bob.userId)).find((x) => x !== undefined);
      return receipt !== undefined;
    });
    expect(receipt!.thread_id, "the thread_id /sync shows on a receipt sent for the main timeline").toBe("main");
  });

  test("an m.read.private receipt reaches only its sender", spec("client-server-api/#private-read-receipts", "1.4"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const first = await alice.sendMessage(roomId, "privately read");
    const second = await alice.sendMessage(roomId, "publicly read");
    expect(await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read.private/${first}`, {})).toHaveStatus(200);
    expect(await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read/${second}`, {})).toHaveStatus(200);
    // The public receipt was sent after the private one, so once alice sees it she has been sent
    // everything bob did before it.
    const privateSeen: Body[] = [];
    const onFirst: string[] = [];
    await alice.syncUntil("bob's public receipt", (r) => {
      const receipts = ephemeral(r, roomId, "m.receipt");
      for (const e of receipts) for (const byType of Object.values(e.content ?? {}) as Body[]) if (byType?.["m.read.private"]) privateSeen.push(byType["m.read.private"]);
      // Under any type: a private receipt must not reach others relabelled either.
      for (const e of receipts) for (const [type, byUser] of Object.entries((e.content?.[first] ?? {}) as Record<string, Body>)) if (byUser?.[bob.userId!]) onFirst.push(type);
      return receipts.some((e) => receiptOf(e, second, "m.read", bob.userId) !== undefined);
    });
    expect(privateSeen, "m.read.private receipts alice was sent").toEqual([]);
    expect(onFirst, "receipt types alice was sent for bob on the privately read event").toEqual([]);
    await bob.syncUntil("bob's own private receipt", (r) => ephemeral(r, roomId, "m.receipt").some((e) => receiptOf(e, first, "m.read.private", bob.userId) !== undefined));
  });

  test("an empty thread_id is refused with 400", spec(POST_RECEIPT, "1.4"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const eventId = await alice.sendMessage(roomId, "thread test");
    const res = await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read/${eventId}`, { thread_id: "" });
    expect(res).toHaveStatus(400);
  });

  test("a thread_id on an m.fully_read marker, a receipt type it does not fit, is refused with 400", spec(POST_RECEIPT, "1.4"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const eventId = await alice.sendMessage(roomId, "thread test");
    const res = await bob.post(cs.v3`/rooms/${roomId}/receipt/m.fully_read/${eventId}`, { thread_id: "main" });
    expect(res).toHaveStatus(400);
  });

  test("a receipt for an event ID the room does not have is accepted or refused with a 4xx error (the spec names no error), and later receipts still arrive", spec(POST_RECEIPT, "1.0"), async ({ alice, bob }) => {
    const roomId = await publicRoomJoinedBy(alice, bob);
    const res = await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read/${`$no-such-event-${Date.now()}`}`, {});
    if (res.status !== 200) {
      expect(res.status, `status ${res.status}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `status ${res.status}`).toBeLessThan(500);
      expect(typeof res.body?.errcode, "a standard error response").toBe("string");
    }
    const eventId = await alice.sendMessage(roomId, "a real event");
    expect(await bob.post(cs.v3`/rooms/${roomId}/receipt/m.read/${eventId}`, {})).toHaveStatus(200);
    await alice.syncUntil("bob's receipt on the real event", (r) => ephemeral(r, roomId, "m.receipt").some((e) => receiptOf(e, eventId, "m.read", bob.userId) !== undefined));
  });
});
