// Sending and reading room events: message events, transaction IDs, state events and who may send.
// Spec: client-server-api/#sending-events-to-a-room, #transaction-identifiers, #getting-events-for-a-room.
import { cs, describe, expect, newTxnId, skipIfLeaveForgets, spec, test, uniqueLocalpart, type Body, type MatrixClient } from "../../harness/fixtures/index.ts";

// ---- local helpers ----

/**
 * The m.room.message events of a room, newest first, paged back from a /sync position that covers
 * `lastEventId` (a server may make an event visible a moment after its send returns).
 */
async function messagesOf(client: MatrixClient, roomId: string, lastEventId: string): Promise<Body[]> {
  const out: Body[] = [];
  let from: string | undefined = await client.syncPast(roomId, lastEventId);
  for (let pages = 0; from !== undefined; pages++) {
    if (pages >= 20) throw new Error(`/messages still returned an end token after ${pages} pages`);
    const page: Body = await client.step("page back through /messages", "GET", cs.v3`/rooms/${roomId}/messages`, {
      query: { dir: "b", from, limit: 100, filter: JSON.stringify({ types: ["m.room.message"] }) },
    });
    out.push(...(page.chunk as Body[]));
    from = page.end;
  }
  return out;
}

/** Logs the same user in again, giving a second device with its own access token. */
async function secondDevice(client: MatrixClient & { localpart: string; password: string }): Promise<MatrixClient> {
  const body = await client.step<Body>("log in on a second device", "POST", cs.v3`/login`, {
    token: null,
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: client.localpart }, password: client.password },
  });
  return client.as({ accessToken: body.access_token, userId: body.user_id, deviceId: body.device_id });
}

// ---- message events ----

describe("PUT /rooms/{roomId}/send/{eventType}/{txnId}", () => {
  test("returns an event ID, and the event reads back through GET /rooms/{roomId}/event/{eventId}", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const content = { msgtype: "m.text", body: uniqueLocalpart("hello") };
    const sent = await alice.put(cs.v3`/rooms/${roomId}/send/m.room.message/${newTxnId()}`, content);
    expect(sent).toHaveStatus(200);
    const eventId = sent.body.event_id as string;
    // Read it back once /sync has shown it: a server may make an event visible a moment after
    // the send returns.
    await alice.syncPast(roomId, eventId);
    const got = await alice.get(cs.v3`/rooms/${roomId}/event/${eventId}`);
    expect(got).toHaveStatus(200);
    expect(got.body.event_id, "GET /event's event_id is the ID the send answered").toBe(eventId);
    expect(got.body.type, "GET /event's type is the type sent").toBe("m.room.message");
    expect(got.body.room_id, "GET /event's room_id is the room sent to").toBe(roomId);
    expect(got.body.sender, "GET /event's sender is the sending user").toBe(alice.userId);
    expect(got.body.content, "GET /event's content is the content sent").toEqual(content);
  });

  test("rejects a user who is not in the room with 403 M_FORBIDDEN", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.0"), async ({ alice, bob }) => {
    // The send endpoint's 403: "The sender doesn't have permission to send the event into the room"; only members may send (#room-membership).
    const roomId = await alice.createRoom({ preset: "public_chat" });
    const res = await bob.put(cs.v3`/rooms/${roomId}/send/m.room.message/${newTxnId()}`, { msgtype: "m.text", body: "not a member" });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("rejects a member whose power level is below the level for the event type with 403 M_FORBIDDEN", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.0"), async ({ alice, bob }) => {
    // m.room.power_levels `events`: "The level required to send specific event types" (#mroompower_levels).
    const roomId = await alice.createRoom({ preset: "public_chat", power_level_content_override: { events: { "org.example.guarded": 50 } } });
    await bob.joinRoom(roomId);
    const res = await bob.put(cs.v3`/rooms/${roomId}/send/org.example.guarded/${newTxnId()}`, { x: 1 });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });
});

describe("GET /rooms/{roomId}/event/{eventId}", () => {
  test("answers 404 M_NOT_FOUND for an event ID the room does not have", spec("client-server-api/#get_matrixclientv3roomsroomideventeventid", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const res = await alice.get(cs.v3`/rooms/${roomId}/event/${`$no-such-event-${Date.now()}`}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("answers 404 M_NOT_FOUND to a user who may not see the event", spec("client-server-api/#get_matrixclientv3roomsroomideventeventid", "1.0"), async ({ alice, bob }) => {
    // private_chat gives "shared" history: only members can see it; bob never joined.
    const roomId = await alice.createRoom({ preset: "private_chat" });
    const eventId = await alice.sendMessage(roomId, "members only");
    const res = await bob.get(cs.v3`/rooms/${roomId}/event/${eventId}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

// ---- transaction identifiers ----

describe("transaction identifiers", () => {
  // The rules are #transaction-identifiers prose (a transaction ID's scope "is for a single
  // device, and a single HTTP endpoint"); every request of these tests is a send, whose txnId
  // "will be used by the server to ensure idempotency of requests" (MUST-level: the prose's
  // lower-case "should identify a request as a retransmission" does not lower the endpoint's
  // statement).
  test("a retransmission with the same transaction ID returns the same event ID and adds no second event", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const txnId = newTxnId();
    const content = { msgtype: "m.text", body: uniqueLocalpart("once") };
    const first = await alice.put(cs.v3`/rooms/${roomId}/send/m.room.message/${txnId}`, content);
    const second = await alice.put(cs.v3`/rooms/${roomId}/send/m.room.message/${txnId}`, content);
    expect(first).toHaveStatus(200);
    expect(second).toHaveStatus(200);
    expect(second.body.event_id, "the retransmission's event ID").toBe(first.body.event_id);
    const copies = (await messagesOf(alice, roomId, first.body.event_id)).filter((e) => e.content?.body === content.body);
    expect(copies.map((e) => e.event_id), "events with this body in the timeline").toEqual([first.body.event_id]);
  });

  test("a different transaction ID makes a new event", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const content = { msgtype: "m.text", body: uniqueLocalpart("twice") };
    const a = await alice.put(cs.v3`/rooms/${roomId}/send/m.room.message/${newTxnId()}`, content);
    const b = await alice.put(cs.v3`/rooms/${roomId}/send/m.room.message/${newTxnId()}`, content);
    expect(a).toHaveStatus(200);
    expect(b).toHaveStatus(200);
    expect(b.body.event_id, "two transaction IDs give two event IDs").not.toBe(a.body.event_id);
    const copies = (await messagesOf(alice, roomId, b.body.event_id)).filter((e) => e.content?.body === content.body);
    expect(copies, "both events are in the timeline").toHaveLength(2);
  });

  test("the same transaction ID on another path (another room) is a new request", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.0"), async ({ alice }) => {
    const room1 = await alice.createRoom({});
    const room2 = await alice.createRoom({});
    const txnId = newTxnId();
    const a = await alice.put(cs.v3`/rooms/${room1}/send/m.room.message/${txnId}`, { msgtype: "m.text", body: "room one" });
    const b = await alice.put(cs.v3`/rooms/${room2}/send/m.room.message/${txnId}`, { msgtype: "m.text", body: "room two" });
    expect(a).toHaveStatus(200);
    expect(b).toHaveStatus(200);
    expect(b.body.event_id, "one transaction ID in two rooms gives two event IDs").not.toBe(a.body.event_id);
    await alice.syncPast(room2, b.body.event_id);
    expect((await alice.get(cs.v3`/rooms/${room2}/event/${b.body.event_id}`)).body?.content?.body, "the second room's event carries the second room's body").toBe("room two");
  });

  test("the same transaction ID from another device of the same user is a new request", spec("client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid", "1.7"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const other = await secondDevice(alice);
    expect(other.deviceId, "the second login is a different device").not.toBe(alice.deviceId);
    const txnId = newTxnId();
    const a = await alice.put(cs.v3`/rooms/${roomId}/send/m.room.message/${txnId}`, { msgtype: "m.text", body: "device one" });
    const b = await other.put(cs.v3`/rooms/${roomId}/send/m.room.message/${txnId}`, { msgtype: "m.text", body: "device two" });
    expect(a).toHaveStatus(200);
    expect(b).toHaveStatus(200);
    expect(b.body.event_id, "one transaction ID from two devices gives two event IDs").not.toBe(a.body.event_id);
  });
});

// ---- state events ----

describe("PUT and GET /rooms/{roomId}/state/{eventType}/{stateKey}", () => {
  test("state set with PUT reads back with GET for the same type and state key", spec("client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const content = { colour: "teal", n: 3 };
    const put = await alice.put(cs.v3`/rooms/${roomId}/state/org.example.colour/${"some key"}`, content);
    expect(put).toHaveStatus(200);
    const got = await alice.get(cs.v3`/rooms/${roomId}/state/org.example.colour/${"some key"}`);
    expect(got).toHaveStatus(200);
    expect(got.body, "GET answers the state content as it was PUT").toEqual(content);
  });

  test("a second PUT to the same type and state key replaces the state", spec("client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    await alice.sendState(roomId, "org.example.colour", "k", { colour: "red" });
    await alice.sendState(roomId, "org.example.colour", "k", { colour: "blue" });
    expect(await alice.getState(roomId, "org.example.colour", "k"), "the content after the second PUT").toEqual({ colour: "blue" });
  });

  test("GET /rooms/{roomId}/state includes the event with its type, state key, sender and content", spec("client-server-api/#get_matrixclientv3roomsroomidstate", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    const eventId = await alice.sendState(roomId, "org.example.colour", "listed", { colour: "green" });
    const res = await alice.get(cs.v3`/rooms/${roomId}/state`);
    expect(res).toHaveStatus(200);
    const ev = (res.body as Body[]).find((e) => e.type === "org.example.colour" && e.state_key === "listed");
    expect(ev, "the state event is in the room state").toBeDefined();
    expect(ev.event_id, "the listed state event's event_id is the one the PUT answered").toBe(eventId);
    expect(ev.sender, "the listed state event's sender").toBe(alice.userId);
    expect(ev.content, "the listed state event's content").toEqual({ colour: "green" });
  });

  test("GET for a type and state key with no state answers 404 M_NOT_FOUND", spec("client-server-api/#get_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({});
    await alice.sendState(roomId, "org.example.colour", "present", { colour: "red" });
    const res = await alice.get(cs.v3`/rooms/${roomId}/state/org.example.colour/${"absent"}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("a member below the state level cannot send a state event: 403 M_FORBIDDEN, and the state is unchanged", spec("client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat", topic: "the original topic" });
    await bob.joinRoom(roomId);
    // bob has users_default (0); state_default is 50 unless the server chose otherwise.
    const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
    const needed = pl.events?.["m.room.topic"] ?? pl.state_default ?? 50;
    const bobLevel = pl.users?.[bob.userId] ?? pl.users_default ?? 0;
    expect(bobLevel, "precondition: bob is below the level for m.room.topic").toBeLessThan(needed);
    const res = await bob.put(cs.v3`/rooms/${roomId}/state/m.room.topic/`, { topic: "bob's topic" });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    expect((await alice.getState(roomId, "m.room.topic")).topic, "the topic after a refused state change").toBe("the original topic");
  });

  test("a user who is not in the room cannot send a state event: 403 M_FORBIDDEN", spec("client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    const res = await bob.put(cs.v3`/rooms/${roomId}/state/org.example.colour/`, { colour: "grey" });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("a state event whose state_key is another user's ID is rejected with 403 M_FORBIDDEN", spec("client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice, bob }) => {
    // The authorisation rules (rooms/v1/#authorisation-rules and later versions) reject it.
    // Every room version's auth rules reject a state_key starting with @ that is not the sender.
    const roomId = await alice.createRoom({ preset: "public_chat", power_level_content_override: { events: { "org.example.profile": 0 } } });
    await bob.joinRoom(roomId);
    const own = await bob.put(cs.v3`/rooms/${roomId}/state/org.example.profile/${bob.userId}`, { mine: true });
    expect(own, "precondition: bob may set his own user-keyed state").toHaveStatus(200);
    const res = await bob.put(cs.v3`/rooms/${roomId}/state/org.example.profile/${alice.userId}`, { mine: false });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("GET /state by a user who was never in the room answers 403", spec("client-server-api/#get_matrixclientv3roomsroomidstate", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    const res = await bob.get(cs.v3`/rooms/${roomId}/state`);
    expect(res).toHaveStatus(403);
  });

  test("a user who left reads the state as it was when they left", spec("client-server-api/#get_matrixclientv3roomsroomidstateeventtypestatekey", "1.0"), async ({ alice, bob, skip }) => {
    await skipIfLeaveForgets(bob, skip, "so a left room's state is not readable");
    const roomId = await alice.createRoom({ preset: "public_chat", topic: "before bob left" });
    await bob.joinRoom(roomId);
    await bob.leave(roomId);
    await alice.sendState(roomId, "m.room.topic", "", { topic: "after bob left" });
    const res = await bob.get(cs.v3`/rooms/${roomId}/state/m.room.topic/`);
    expect(res).toHaveStatus(200);
    expect(res.body.topic, "the topic a user who left reads: the one when they left").toBe("before bob left");
  });
});
