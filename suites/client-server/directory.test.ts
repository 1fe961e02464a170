// Room aliases and the published room directory: mapping, resolving and removing aliases, a
// room's local aliases, m.room.canonical_alias validation, a room's directory visibility, and
// listing, searching and paginating the published rooms. (room_alias_name at creation is in
// rooms.test.ts.)
// Spec: client-server-api/#room-aliases, #put_matrixclientv3directoryroomroomalias,
// #get_matrixclientv3directoryroomroomalias, #delete_matrixclientv3directoryroomroomalias,
// #get_matrixclientv3roomsroomidaliases, #put_matrixclientv3roomsroomidstateeventtypestatekey,
// #listing-rooms, #get_matrixclientv3directorylistroomroomid,
// #put_matrixclientv3directorylistroomroomid, #get_matrixclientv3publicrooms,
// #post_matrixclientv3publicrooms.
import { serverNameOf } from "../../harness/crypto/index.ts";
import { cs, describe, expect, spec, test, uniqueLocalpart, type MatrixClient, type Response, type UserClient } from "../../harness/fixtures/index.ts";
import { settings } from "../../harness/settings.ts";

const PUT_ALIAS = "client-server-api/#put_matrixclientv3directoryroomroomalias";
const GET_ALIAS = "client-server-api/#get_matrixclientv3directoryroomroomalias";
const DELETE_ALIAS = "client-server-api/#delete_matrixclientv3directoryroomroomalias";
const GET_LOCAL_ALIASES = "client-server-api/#get_matrixclientv3roomsroomidaliases";
const PUT_STATE = "client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey";
const GET_VISIBILITY = "client-server-api/#get_matrixclientv3directorylistroomroomid";
const PUT_VISIBILITY = "client-server-api/#put_matrixclientv3directorylistroomroomid";
const GET_PUBLIC_ROOMS = "client-server-api/#get_matrixclientv3publicrooms";
const POST_PUBLIC_ROOMS = "client-server-api/#post_matrixclientv3publicrooms";

interface PublishedRoom {
  room_id: string;
  name?: string;
  topic?: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule?: string;
  room_type?: string;
}
interface PublishedRooms {
  chunk: PublishedRoom[];
  next_batch?: string;
  prev_batch?: string;
}

/** A fresh alias on the user's own server, `#<unique>:<server name>`. */
function localAlias(user: UserClient, prefix = "dir"): string {
  return `#${uniqueLocalpart(prefix)}:${serverNameOf(user.userId)}`;
}

async function mapAlias(user: MatrixClient, alias: string, roomId: string): Promise<void> {
  await user.step(`map ${alias} to ${roomId}`, "PUT", cs.v3`/directory/room/${alias}`, { body: { room_id: roomId } });
}

async function publish(user: MatrixClient, roomId: string, visibility: "public" | "private"): Promise<void> {
  await user.step(`set the directory visibility of ${roomId} to ${visibility}`, "PUT", cs.v3`/directory/list/room/${roomId}`, { body: { visibility } });
}

/**
 * Searches the published room directory (POST /publicRooms with `generic_search_term`) until
 * `done` holds for the rooms found, or settings().syncWaitMs passes; returns the last answer.
 * Why more than one search: a server may build its listing (joined member counts, names, topics)
 * from statistics it updates after the events are persisted, and the directory has no signal of
 * its own. Between searches the searcher long-polls its /sync (at most syncPollMs): the server
 * answers as soon as anything happens in the user's rooms, so there is no fixed pause.
 */
async function searchUntil(user: MatrixClient, term: string, done: (chunk: PublishedRoom[]) => boolean): Promise<PublishedRoom[]> {
  const deadline = Date.now() + settings().syncWaitMs;
  for (;;) {
    const body = await user.step<PublishedRooms>(`search the published rooms for '${term}'`, "POST", cs.v3`/publicRooms`, {
      body: { filter: { generic_search_term: term } },
    });
    const remaining = deadline - Date.now();
    if (done(body.chunk) || remaining <= 0) return body.chunk;
    await user.sync({ timeout: Math.min(remaining, settings().syncPollMs) });
  }
}

/** A room created with a unique name containing `term`, published in the directory, listed by the search. */
async function publishedRoom(user: MatrixClient, term: string, extra: Record<string, unknown> = {}): Promise<string> {
  const roomId = await user.createRoom({ preset: "public_chat", name: `${term} ${uniqueLocalpart("name")}`, ...extra });
  await publish(user, roomId, "public");
  return roomId;
}

function ids(chunk: readonly PublishedRoom[]): string[] {
  return chunk.map((r) => r.room_id);
}

// ---- aliases ----

describe("PUT/GET /directory/room/{roomAlias}", () => {
  test("maps a new alias to the room, and GET resolves it to the room ID and the servers aware of it", spec(PUT_ALIAS, "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom();
    const alias = localAlias(alice);
    const put = await alice.put(cs.v3`/directory/room/${alias}`, { room_id: roomId });
    expect(put).toHaveStatus(200);
    const res = await bob.get<{ room_id: string; servers: string[] }>(cs.v3`/directory/room/${alias}`);
    expect(res).toHaveStatus(200);
    expect(res.body.room_id, "the room ID the new alias resolves to").toBe(roomId);
    // servers: "A list of servers that are aware of this room alias." The server hosting it is.
    expect(res.body.servers, "the servers aware of the alias include the server that hosts it").toContain(serverNameOf(alice.userId));
  });

  test("answers 404 M_NOT_FOUND for an alias that maps to no room", spec(GET_ALIAS, "1.0"), async ({ alice }) => {
    const res = await alice.get(cs.v3`/directory/room/${localAlias(alice, "nomap")}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("answers 400 M_INVALID_PARAM when resolving a string that is not a room alias", spec(GET_ALIAS, "1.0"), async ({ alice }) => {
    // "#<localpart>:<domain>": a string without the domain is not an alias (appendices, room aliases).
    const res = await alice.get(cs.v3`/directory/room/${`#${uniqueLocalpart("nodomain")}`}`);
    expect(res).toBeMatrixError(400, "M_INVALID_PARAM", "the 400 answer of this endpoint is for an invalid alias");
  });

  test("refuses to map an alias that already exists with 409, leaving the mapping as it was", spec(PUT_ALIAS, "1.0"), async ({ alice, bob }) => {
    const first = await alice.createRoom();
    const other = await bob.createRoom();
    const alias = localAlias(alice);
    await mapAlias(alice, alias, first);
    const res = await bob.put(cs.v3`/directory/room/${alias}`, { room_id: other });
    // 409: "A room alias with that name already exists."
    expect(res).toBeMatrixError(409, undefined, "the endpoint answers 409 when the alias already exists");
    const still = await alice.step<{ room_id: string }>("resolve the alias again", "GET", cs.v3`/directory/room/${alias}`);
    expect(still.room_id, "the alias still resolves to the room it was first mapped to").toBe(first);
  });

  test("refuses to map a string that is not a room alias with 400 M_INVALID_PARAM", spec(PUT_ALIAS, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const res = await alice.put(cs.v3`/directory/room/${`#${uniqueLocalpart("nodomain")}`}`, { room_id: roomId });
    expect(res).toBeMatrixError(400, "M_INVALID_PARAM", "the 400 answer of this endpoint is for an invalid alias");
  });

  test("refuses to map an alias on another server's domain", spec(PUT_ALIAS, "1.0", { level: "MAY" }), async ({ alice }) => {
    // #room-aliases: "it is likely that a homeserver will reject attempts to maintain aliases on other domain names."
    const roomId = await alice.createRoom();
    const alias = `#${uniqueLocalpart("foreign")}:elsewhere.invalid`;
    const res = await alice.put(cs.v3`/directory/room/${alias}`, { room_id: roomId });
    expect(res).toBeMatrixError([400, 403], undefined, "the alias's domain is not this server's name, so the server cannot host it");
  });
});

describe("DELETE /directory/room/{roomAlias}", () => {
  test("removes the mapping when its creator deletes it: GET then answers 404 M_NOT_FOUND", spec(DELETE_ALIAS, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const alias = localAlias(alice);
    await mapAlias(alice, alias, roomId);
    const del = await alice.delete(cs.v3`/directory/room/${alias}`);
    expect(del).toHaveStatus(200);
    const res = await alice.get(cs.v3`/directory/room/${alias}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND", "the alias was deleted");
  });

  test("answers 404 M_NOT_FOUND when deleting an alias that maps to no room", spec(DELETE_ALIAS, "1.0"), async ({ alice }) => {
    const res = await alice.delete(cs.v3`/directory/room/${localAlias(alice, "nomap")}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses a user who neither created the alias nor has power in its room, keeping the mapping", spec(DELETE_ALIAS, "1.0", { level: "MAY" }), async ({ alice, bob }) => {
    // "Servers may choose to implement additional access control checks here, for instance that
    // room aliases can only be deleted by their creator or a server administrator."
    const roomId = await alice.createRoom();
    const alias = localAlias(alice);
    await mapAlias(alice, alias, roomId);
    const res = await bob.delete(cs.v3`/directory/room/${alias}`);
    expect(res).toBeMatrixError(403, undefined, "bob did not create the alias and is not even in the room");
    const still = await alice.step<{ room_id: string }>("resolve the alias again", "GET", cs.v3`/directory/room/${alias}`);
    expect(still.room_id, "the alias still resolves to its room after the refused delete").toBe(roomId);
  });
});

describe("GET /rooms/{roomId}/aliases", () => {
  test("lists the local aliases of the room to a member", spec(GET_LOCAL_ALIASES, "1.1"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    const a1 = localAlias(alice);
    const a2 = localAlias(alice);
    await mapAlias(alice, a1, roomId);
    await mapAlias(alice, a2, roomId);
    const res = await bob.get<{ aliases: string[] }>(cs.v3`/rooms/${roomId}/aliases`);
    expect(res).toHaveStatus(200);
    expect([...res.body.aliases].sort(), "the room's local aliases, as a member reads them").toEqual(expect.arrayContaining([a1, a2].sort()));
  });

  test("refuses a user outside a room that is not world-readable with 403 M_FORBIDDEN", spec(GET_LOCAL_ALIASES, "1.1"), async ({ alice, bob }) => {
    // "This endpoint can be called by users who are in the room (external users receive an M_FORBIDDEN error response)."
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await mapAlias(alice, localAlias(alice), roomId);
    const res = await bob.get(cs.v3`/rooms/${roomId}/aliases`);
    expect(res).toBeMatrixError(403, "M_FORBIDDEN", "bob is not in the room and its history is not world_readable");
  });

  test("lists the aliases of a world-readable room to a user outside it", spec(GET_LOCAL_ALIASES, "1.1"), async ({ alice, bob }) => {
    // "If the room's m.room.history_visibility maps to world_readable, any user can call this endpoint."
    const roomId = await alice.createRoom({
      preset: "public_chat",
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } }],
    });
    const alias = localAlias(alice);
    await mapAlias(alice, alias, roomId);
    const res = await bob.get<{ aliases: string[] }>(cs.v3`/rooms/${roomId}/aliases`);
    expect(res).toHaveStatus(200);
    expect(res.body.aliases, "the world-readable room's aliases, as a non-member reads them").toContain(alias);
  });
});

describe("m.room.canonical_alias validation", () => {
  test("accepts a canonical alias and alt_aliases that resolve to the room", spec(PUT_STATE, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const alias = localAlias(alice);
    const alt = localAlias(alice);
    await mapAlias(alice, alias, roomId);
    await mapAlias(alice, alt, roomId);
    const res = await alice.put(cs.v3`/rooms/${roomId}/state/${"m.room.canonical_alias"}/${""}`, { alias, alt_aliases: [alt] });
    expect(res).toHaveStatus(200);
    const state = await alice.getState<{ alias?: string; alt_aliases?: string[] }>(roomId, "m.room.canonical_alias");
    expect(state, "the canonical alias event stored").toEqual({ alias, alt_aliases: [alt] });
  });

  test("refuses a canonical alias that points to another room with 400 M_BAD_ALIAS", spec(PUT_STATE, "1.0"), async ({ alice }) => {
    // M_BAD_ALIAS: "One or more aliases within the m.room.canonical_alias event do not point to the room ID".
    const roomId = await alice.createRoom();
    const elsewhere = await alice.createRoom();
    const alias = localAlias(alice);
    await mapAlias(alice, alias, elsewhere);
    const res = await alice.put(cs.v3`/rooms/${roomId}/state/${"m.room.canonical_alias"}/${""}`, { alias });
    expect(res).toBeMatrixError(400, "M_BAD_ALIAS", "the alias resolves to another room");
  });

  test("refuses a canonical alias that maps to no room with 400 M_BAD_ALIAS", spec(PUT_STATE, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const res = await alice.put(cs.v3`/rooms/${roomId}/state/${"m.room.canonical_alias"}/${""}`, { alias: localAlias(alice, "nomap") });
    expect(res).toBeMatrixError(400, "M_BAD_ALIAS", "the alias does not resolve to the room (it resolves to nothing)");
  });

  test("refuses a canonical alias that is not a room alias with 400 M_INVALID_PARAM", spec(PUT_STATE, "1.0"), async ({ alice }) => {
    // M_INVALID_PARAM: "One or more aliases within the m.room.canonical_alias event have invalid syntax."
    const roomId = await alice.createRoom();
    const res = await alice.put(cs.v3`/rooms/${roomId}/state/${"m.room.canonical_alias"}/${""}`, { alias: uniqueLocalpart("not-an-alias") });
    expect(res).toBeMatrixError(400, "M_INVALID_PARAM", "the alias has neither the # sigil nor a domain");
  });

  test("refuses alt_aliases containing an alias that points to another room with 400 M_BAD_ALIAS", spec(PUT_STATE, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const elsewhere = await alice.createRoom();
    const good = localAlias(alice);
    const bad = localAlias(alice);
    await mapAlias(alice, good, roomId);
    await mapAlias(alice, bad, elsewhere);
    const res = await alice.put(cs.v3`/rooms/${roomId}/state/${"m.room.canonical_alias"}/${""}`, { alias: good, alt_aliases: [good, bad] });
    expect(res).toBeMatrixError(400, "M_BAD_ALIAS", "one of the alt_aliases resolves to another room");
    const state = await alice.get<{ alias?: string }>(cs.v3`/rooms/${roomId}/state/${"m.room.canonical_alias"}/${""}`);
    expect(state.status === 404 || state.body.alias !== good, "the refused canonical alias event did not become the room's state").toBe(true);
  });
});

// ---- the published room directory ----

describe("GET/PUT /directory/list/room/{roomId}", () => {
  test("reports a room created without a visibility as private", spec(GET_VISIBILITY, "1.0"), async ({ alice }) => {
    // createRoom visibility: "Defaults to private."
    const roomId = await alice.createRoom({ preset: "public_chat" });
    const res = await alice.get<{ visibility: string }>(cs.v3`/directory/list/room/${roomId}`);
    expect(res).toHaveStatus(200);
    expect(res.body.visibility, "the directory visibility of a room created without one").toBe("private");
  });

  test("answers 404 M_NOT_FOUND for a room the server does not know", spec(GET_VISIBILITY, "1.0"), async ({ alice }) => {
    const res = await alice.get(cs.v3`/directory/list/room/${`!${uniqueLocalpart("noroom")}:${serverNameOf(alice.userId)}`}`);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("answers 404 M_NOT_FOUND when setting the visibility of a room the server does not know", spec(PUT_VISIBILITY, "1.0"), async ({ alice }) => {
    const res = await alice.put(cs.v3`/directory/list/room/${`!${uniqueLocalpart("noroom")}:${serverNameOf(alice.userId)}`}`, { visibility: "public" });
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("sets the visibility to public and back to private, as GET then reports", spec(PUT_VISIBILITY, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    const pub = await alice.put(cs.v3`/directory/list/room/${roomId}`, { visibility: "public" });
    expect(pub).toHaveStatus(200);
    const afterPublic = await alice.step<{ visibility: string }>("read the visibility", "GET", cs.v3`/directory/list/room/${roomId}`);
    expect(afterPublic.visibility, "the visibility after setting it to public").toBe("public");
    const priv = await alice.put(cs.v3`/directory/list/room/${roomId}`, { visibility: "private" });
    expect(priv).toHaveStatus(200);
    const afterPrivate = await alice.step<{ visibility: string }>("read the visibility", "GET", cs.v3`/directory/list/room/${roomId}`);
    expect(afterPrivate.visibility, "the visibility after setting it back to private").toBe("private");
  });
});

describe("POST /publicRooms", () => {
  test("lists a published room with its name, topic, member count, world_readable, guest_can_join and join_rule", spec(POST_PUBLIC_ROOMS, "1.0"), async ({ alice, bob }) => {
    const term = uniqueLocalpart("listed");
    const name = `${term} room`;
    const topic = `topic of ${term}`;
    const roomId = await alice.createRoom({
      preset: "public_chat",
      name,
      topic,
      initial_state: [
        { type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } },
        { type: "m.room.guest_access", state_key: "", content: { guest_access: "can_join" } },
      ],
    });
    await bob.joinRoom(roomId);
    await publish(alice, roomId, "public");
    const chunk = await searchUntil(alice, term, (c) => c.some((r) => r.room_id === roomId && r.num_joined_members === 2 && r.name === name && r.topic === topic));
    const entry = chunk.find((r) => r.room_id === roomId);
    expect(entry, `the published room ${roomId} in the search results for its name`).toBeDefined();
    expect(
      // join_rule: "When not present, the room is assumed to be `public`."
      { name: entry?.name, topic: entry?.topic, num_joined_members: entry?.num_joined_members, world_readable: entry?.world_readable, guest_can_join: entry?.guest_can_join, join_rule: entry?.join_rule ?? "public" },
      "the published room's entry reflects its state: two joined members, world_readable history, guests can join, public join rule",
    ).toEqual({ name, topic, num_joined_members: 2, world_readable: true, guest_can_join: true, join_rule: "public" });
  });

  test("returns only rooms matching filter.generic_search_term", spec(POST_PUBLIC_ROOMS, "1.0"), async ({ alice }) => {
    const term = uniqueLocalpart("match");
    const matching = await publishedRoom(alice, term);
    const other = await publishedRoom(alice, uniqueLocalpart("other"));
    const chunk = await searchUntil(alice, term, (c) => ids(c).includes(matching));
    expect(ids(chunk), "the search for the room's name finds it").toContain(matching);
    expect(ids(chunk), "a published room whose name, topic and alias lack the term is not returned").not.toContain(other);
  });

  test("returns only rooms of the types in filter.room_types, null standing for rooms without a type", spec(POST_PUBLIC_ROOMS, "1.4"), async ({ alice }) => {
    // room_types: "To include rooms without a room type, specify null within this list."
    const term = uniqueLocalpart("typed");
    const space = await publishedRoom(alice, term, { creation_content: { type: "m.space" } });
    const plain = await publishedRoom(alice, term);
    await searchUntil(alice, term, (c) => ids(c).includes(space) && ids(c).includes(plain));
    const spaces = await alice.post<PublishedRooms>(cs.v3`/publicRooms`, { filter: { generic_search_term: term, room_types: ["m.space"] } });
    expect(spaces).toHaveStatus(200);
    const untyped = await alice.step<PublishedRooms>("search for rooms without a type", "POST", cs.v3`/publicRooms`, { body: { filter: { generic_search_term: term, room_types: [null] } } });
    expect(
      { "room_types [m.space]": ids(spaces.body.chunk).sort(), "room_types [null]": ids(untyped.chunk).sort() },
      "the published rooms found for each room_types filter: the space for m.space, the room without a type for null",
    ).toEqual({ "room_types [m.space]": [space], "room_types [null]": [plain] });
    expect(spaces.body.chunk[0]?.room_type, "room_type of the space in its directory entry").toBe("m.space");
  });

  test("stops listing a room once its visibility is set back to private", spec(POST_PUBLIC_ROOMS, "1.0"), async ({ alice }) => {
    const term = uniqueLocalpart("unlisted");
    const roomId = await publishedRoom(alice, term);
    const listed = await searchUntil(alice, term, (c) => ids(c).includes(roomId));
    expect(ids(listed), "the room is listed while published").toContain(roomId);
    await publish(alice, roomId, "private");
    const after = await searchUntil(alice, term, (c) => !ids(c).includes(roomId));
    expect(ids(after), "the room is no longer listed after its visibility was set to private").not.toContain(roomId);
  });

  test("pages through matching rooms with limit and since/next_batch, each room once", spec(POST_PUBLIC_ROOMS, "1.0"), async ({ alice }) => {
    const term = uniqueLocalpart("paged");
    const rooms = [await publishedRoom(alice, term), await publishedRoom(alice, term), await publishedRoom(alice, term)];
    await searchUntil(alice, term, (c) => rooms.every((r) => ids(c).includes(r)));
    const seen: string[] = [];
    const problems: string[] = [];
    let since: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res: Response<PublishedRooms> = await alice.post(cs.v3`/publicRooms`, { limit: 1, filter: { generic_search_term: term }, ...(since ? { since } : {}) });
      expect(res).toHaveStatus(200);
      if (res.body.chunk.length > 1) problems.push(`page ${page + 1} holds ${res.body.chunk.length} rooms although limit is 1`);
      seen.push(...ids(res.body.chunk));
      // next_batch: "The absence of this token means there are no more results to fetch."
      since = res.body.next_batch;
      if (since === undefined) break;
    }
    if (since !== undefined) problems.push("next_batch was still given after 10 pages of one room each (3 rooms match)");
    expect(problems, "limit and next_batch").toEqual([]);
    expect([...seen].sort(), "the rooms found across the pages: each matching room exactly once").toEqual([...rooms].sort());
  });
});

describe("GET /publicRooms", () => {
  test("honours limit, and gives next_batch when rooms remain and prev_batch on a later page only", spec(GET_PUBLIC_ROOMS, "1.0"), async ({ alice }) => {
    const term = uniqueLocalpart("getpaged");
    const rooms = [await publishedRoom(alice, term), await publishedRoom(alice, term)];
    await searchUntil(alice, term, (c) => rooms.every((r) => ids(c).includes(r)));
    const first = await alice.get<PublishedRooms>(cs.v3`/publicRooms?limit=1`);
    expect(first).toHaveStatus(200);
    expect(first.body.chunk.length, "rooms on the first page with limit=1").toBeLessThanOrEqual(1);
    // prev_batch: "The absence of this token means there are no results before this batch, i.e. this is the first batch."
    expect(first.body.prev_batch, "prev_batch on the first page").toBeUndefined();
    // next_batch: "The absence of this token means there are no more results to fetch." At least two rooms are published.
    expect(first.body.next_batch, "next_batch on the first page of one room while at least two are published").toBeDefined();
    const second = await alice.get<PublishedRooms>(`${cs.v3`/publicRooms`}?limit=1&since=${encodeURIComponent(first.body.next_batch ?? "")}`);
    expect(second).toHaveStatus(200);
    expect(second.body.chunk.length, "rooms on the second page with limit=1").toBeLessThanOrEqual(1);
    expect(second.body.prev_batch, "prev_batch on the page after the first").toBeDefined();
  });
});
