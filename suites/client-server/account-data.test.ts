// Client config (account data): global and per-room round trips, who may read and write it, how it
// reaches /sync, and the server-managed types clients may not set.
// Spec: client-server-api/#client-config, #put_matrixclientv3useruseridaccount_datatype,
// #get_matrixclientv3useruseridaccount_datatype, #put_matrixclientv3useruseridroomsroomidaccount_datatype,
// #get_matrixclientv3useruseridroomsroomidaccount_datatype, #fully-read-markers.
import { cs, describe, expect, spec, test, uniqueLocalpart, type UserClient } from "../../harness/fixtures/index.ts";

const TYPE = "org.matrix.conformance.config";

/** Content with a marker no other test uses, and values of several JSON types. */
function content(): Record<string, unknown> {
  return { marker: uniqueLocalpart("ad"), colour: "green", count: 3, enabled: true, nested: { list: [1, "two", null] } };
}

function globalPath(user: UserClient, type: string, userId = user.userId): string {
  return cs.v3`/user/${userId}/account_data/${type}`;
}

function roomPath(user: UserClient, roomId: string, type: string, userId = user.userId): string {
  return cs.v3`/user/${userId}/rooms/${roomId}/account_data/${type}`;
}

describe("Global account data", () => {
  test("returns the content that was set for a type", spec("client-server-api/#get_matrixclientv3useruseridaccount_datatype", "1.0"), async ({ alice }) => {
    const data = content();
    expect(await alice.put(globalPath(alice, TYPE), data)).toHaveStatus(200);
    const res = await alice.get(globalPath(alice, TYPE));
    expect(res).toHaveStatus(200);
    expect(res.body, "GET answers the global account data as it was PUT").toEqual(data);
  });

  test("answers a type that was never set with 404 M_NOT_FOUND", spec("client-server-api/#get_matrixclientv3useruseridaccount_datatype", "1.4"), async ({ alice }) => {
    const res = await alice.get(globalPath(alice, `${TYPE}.never_set`));
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses to set account data for another user with 403 M_FORBIDDEN", spec("client-server-api/#put_matrixclientv3useruseridaccount_datatype", "1.4"), async ({ alice, bob }) => {
    const res = await alice.put(globalPath(alice, TYPE, bob.userId), content());
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    const own = await bob.get(globalPath(bob, TYPE));
    expect(own, "nothing may have been stored for the other user").toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses to return another user's account data with 403 M_FORBIDDEN", spec("client-server-api/#get_matrixclientv3useruseridaccount_datatype", "1.4"), async ({ alice, bob }) => {
    await bob.step("set account data", "PUT", globalPath(bob, TYPE), { body: content() });
    const res = await alice.get(globalPath(alice, TYPE, bob.userId));
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("delivers the account data in the top-level account_data of /sync", spec("client-server-api/#put_matrixclientv3useruseridaccount_datatype", "1.0"), async ({ alice }) => {
    const data = content();
    await alice.step("set account data", "PUT", globalPath(alice, TYPE), { body: data });
    let event: { type: string; content: unknown } | undefined;
    await alice.syncUntil(`${TYPE} in account_data`, (res) => {
      event = res.account_data?.events.find((e: { type: string; content?: { marker?: unknown } }) => e.type === TYPE && e.content?.marker === data.marker);
      return event !== undefined;
    });
    expect(event?.content, "the content /sync shows for the global account data").toEqual(data);
  });
});

describe("Per-room account data", () => {
  test("returns the content that was set for a type in a room", spec("client-server-api/#get_matrixclientv3useruseridroomsroomidaccount_datatype", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const data = content();
    expect(await alice.put(roomPath(alice, roomId, TYPE), data)).toHaveStatus(200);
    const res = await alice.get(roomPath(alice, roomId, TYPE));
    expect(res).toHaveStatus(200);
    expect(res.body, "GET answers the room account data as it was PUT").toEqual(data);
  });

  test("answers a type that was never set in the room with 404 M_NOT_FOUND", spec("client-server-api/#get_matrixclientv3useruseridroomsroomidaccount_datatype", "1.4"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const res = await alice.get(roomPath(alice, roomId, `${TYPE}.never_set`));
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("does not fall back to the global account data of the same type", spec("client-server-api/#client-config", "1.4"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    await alice.step("set global account data", "PUT", globalPath(alice, TYPE), { body: content() });
    const res = await alice.get(roomPath(alice, roomId, TYPE));
    expect(res, "per-room account data has no inheritance from the global data").toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("keeps per-room account data out of the global account data of the same type", spec("client-server-api/#client-config", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    await alice.step("set room account data", "PUT", roomPath(alice, roomId, TYPE), { body: content() });
    const res = await alice.get(globalPath(alice, TYPE));
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses to set per-room account data for another user with 403 M_FORBIDDEN", spec("client-server-api/#put_matrixclientv3useruseridroomsroomidaccount_datatype", "1.4"), async ({ alice, bob }) => {
    const roomId = await bob.createRoom();
    const res = await alice.put(roomPath(alice, roomId, TYPE, bob.userId), content());
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("answers a room ID that is not a valid room ID with 400 M_INVALID_PARAM", spec("client-server-api/#get_matrixclientv3useruseridroomsroomidaccount_datatype", "1.4"), async ({ alice }) => {
    const get = await alice.get(roomPath(alice, "not-a-room-id", TYPE));
    expect(get).toBeMatrixError(400, "M_INVALID_PARAM");
    const put = await alice.put(roomPath(alice, "not-a-room-id", TYPE), content());
    expect(put).toBeMatrixError(400, "M_INVALID_PARAM");
  });

  test("delivers per-room account data in the room's account_data of /sync", spec("client-server-api/#put_matrixclientv3useruseridroomsroomidaccount_datatype", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const data = content();
    await alice.step("set room account data", "PUT", roomPath(alice, roomId, TYPE), { body: data });
    let event: { type: string; content: unknown } | undefined;
    await alice.syncUntil(`${TYPE} in the room's account_data`, (res) => {
      const events = res.rooms?.join?.[roomId]?.account_data?.events ?? [];
      event = events.find((e: { type: string; content?: { marker?: unknown } }) => e.type === TYPE && e.content?.marker === data.marker);
      return event !== undefined;
    });
    expect(event?.content, "the content /sync shows for the room account data").toEqual(data);
  });
});

describe("Server-managed account data types", () => {
  // #client-config: servers reject account data "that the server manages by using a 405 error
  // response" (m.fully_read; m.push_rules since v1.10); each PUT documents the 405 M_BAD_JSON.
  // A test that makes one PUT cites that PUT; the one that makes both cites the prose.
  test("refuses to set m.fully_read in a room with 405 M_BAD_JSON, and stores nothing", spec("client-server-api/#put_matrixclientv3useruseridroomsroomidaccount_datatype", "1.4"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const bogus = `$conformance-${uniqueLocalpart("e")}`;
    const res = await alice.put(roomPath(alice, roomId, "m.fully_read"), { event_id: bogus });
    expect(res).toBeMatrixError(405, "M_BAD_JSON");
    const after = await alice.get(roomPath(alice, roomId, "m.fully_read"));
    if (after.status !== 404) {
      expect(after).toHaveStatus(200);
      expect(after.body.event_id, "the refused marker must not have been stored").not.toBe(bogus);
    }
  });

  test("refuses to set m.fully_read as global account data with 405 M_BAD_JSON", spec("client-server-api/#put_matrixclientv3useruseridaccount_datatype", "1.4"), async ({ alice }) => {
    const res = await alice.put(globalPath(alice, "m.fully_read"), { event_id: `$conformance-${uniqueLocalpart("e")}` });
    expect(res).toBeMatrixError(405, "M_BAD_JSON");
  });

  test("refuses to set m.push_rules as global or per-room account data with 405 M_BAD_JSON", spec("client-server-api/#client-config", "1.10"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const global = await alice.put(globalPath(alice, "m.push_rules"), { global: {} });
    expect(global).toBeMatrixError(405, "M_BAD_JSON");
    const room = await alice.put(roomPath(alice, roomId, "m.push_rules"), { global: {} });
    expect(room).toBeMatrixError(405, "M_BAD_JSON");
  });

  test("lets the user read m.fully_read after setting it through /read_markers", spec("client-server-api/#fully-read-markers", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const eventId = await alice.sendMessage(roomId, "read up to here");
    await alice.step("set the fully read marker", "POST", cs.v3`/rooms/${roomId}/read_markers`, { body: { "m.fully_read": eventId } });
    const res = await alice.get(roomPath(alice, roomId, "m.fully_read"));
    expect(res).toHaveStatus(200);
    expect(res.body.event_id, "m.fully_read names the event the read marker was set to").toBe(eventId);
  });
});
