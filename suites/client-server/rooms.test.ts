// Room creation: presets, initial state, names and topics, invites, room versions, the creator's
// power, creation_content, power_level_content_override and room aliases.
// Spec: client-server-api/#creation, #post_matrixclientv3createroom, #permissions, rooms/v12.
import { onePerRuleClass, roomVersion as rulesOf, serverNameOf } from "../../harness/crypto/index.ts";
import {
  cs,
  describe,
  expect,
  inRoomVersion,
  newTxnId,
  roomVersionsWhere,
  spec,
  test,
  uniqueLocalpart,
  type Body,
  type ClientEvent,
  type MatrixClient,
  type OfferedRoomVersions,
} from "../../harness/fixtures/index.ts";

const CREATE_ROOM = "client-server-api/#post_matrixclientv3createroom";
const PUT_STATE = "client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey";

// ---- room versions (read from the harness's room-version table, never by number) ----

/** How the server forms the create event: content.creator (v1-v10), the sender as creator (v11), the room ID from the create event (v12). */
const CREATE_EVENT_CLASSES = onePerRuleClass((r) => [r.auth.createRequiresCreator, r.auth.creatorIsSender, r.format.roomIdFormat]);
/** The versions before creators had infinite power (v1-v11). */
const FINITE_CREATOR_VERSIONS = roomVersionsWhere((r) => !r.auth.infiniteCreatorPower);
/** Who the creator is before creators had infinite power: content.creator (v1-v10) or the sender (v11). */
const FINITE_CREATOR_CLASSES = onePerRuleClass((r) => [r.auth.createRequiresCreator, r.auth.creatorIsSender], FINITE_CREATOR_VERSIONS);
/** The first version whose creators have infinite power (12): its rules for creators hold in every later one. */
const INFINITE_CREATOR_VERSION = roomVersionsWhere((r) => r.auth.infiniteCreatorPower)[0]!;
/** The tests of INFINITE_CREATOR_VERSION, skipped with the reason when the target does not offer it. */
const testWithInfiniteCreators = test.extend(inRoomVersion(INFINITE_CREATOR_VERSION));
/** The versions whose create event names the creator in content.creator (v1-v10). */
const CREATOR_KEY_VERSIONS = roomVersionsWhere((r) => r.auth.createRequiresCreator);

/** The newest of `among` the target offers, or undefined. */
function newestOffered(among: readonly string[], offered: OfferedRoomVersions): string | undefined {
  return among.filter((v) => v in offered.available).pop();
}

/** The versions of `among`, as a range for a title ("1-11"). */
function versionRange(among: readonly string[]): string {
  return `${among[0]}-${among[among.length - 1]}`;
}

/** The room version of an existing room, read from its m.room.create event ("1" when absent). */
async function roomVersionOf(client: MatrixClient, roomId: string): Promise<string> {
  const create = await client.getState<Body>(roomId, "m.room.create");
  return String(create.room_version ?? "1");
}

/**
 * Pages /messages backwards until no `end` is returned, from a /sync position taken once the
 * client's /sync has shown an event matching `last` (the room's newest event, so the pages cover
 * everything the test arranged).
 */
async function wholeTimeline(client: MatrixClient, roomId: string, last: (e: ClientEvent) => boolean, what: string): Promise<Body[]> {
  // A new room holds a few dozen events: 100 per page, and a bound of 20 pages (2000 events) that
  // only a server handing out `end` tokens forever reaches.
  const pageSize = 100;
  const maxPages = 20;
  await client.syncUntilEvent(roomId, last, what);
  const out: Body[] = [];
  let from: string | undefined = client.since;
  for (let pages = 0; from !== undefined; pages++) {
    if (pages >= maxPages) throw new Error(`/messages still returned an end token after ${pages} pages`);
    const page: Body = await client.step("page back through /messages", "GET", cs.v3`/rooms/${roomId}/messages`, { query: { dir: "b", from, limit: pageSize } });
    out.push(...(page.chunk as Body[]));
    from = page.end;
  }
  return out;
}

/**
 * The room's guest access. The m.room.guest_access schema says servers act as if an absent event
 * were present with "forbidden", so an absent event is the same answer as "forbidden".
 */
async function effectiveGuestAccess(client: MatrixClient, roomId: string): Promise<string> {
  const res = await client.get(cs.v3`/rooms/${roomId}/state/m.room.guest_access/`);
  if (res.status === 404) return "forbidden";
  expect(res).toHaveStatus(200);
  return res.body.guest_access;
}

// ---- presets ----

describe("POST /createRoom presets", () => {
  const table = [
    { preset: "private_chat", join_rule: "invite", history_visibility: "shared", guest_access: "can_join" },
    { preset: "trusted_private_chat", join_rule: "invite", history_visibility: "shared", guest_access: "can_join" },
    { preset: "public_chat", join_rule: "public", history_visibility: "shared", guest_access: "forbidden" },
  ];
  for (const row of table) {
    test(
      `the ${row.preset} preset sets join_rule ${row.join_rule}, history_visibility ${row.history_visibility} and guest_access ${row.guest_access}`,
      spec(CREATE_ROOM, "1.0"),
      async ({ alice }) => {
        const roomId = await alice.createRoom({ preset: row.preset });
        expect((await alice.getState(roomId, "m.room.join_rules")).join_rule, "m.room.join_rules join_rule").toBe(row.join_rule);
        expect((await alice.getState(roomId, "m.room.history_visibility")).history_visibility, "m.room.history_visibility").toBe(row.history_visibility);
        expect(await effectiveGuestAccess(alice, roomId), "m.room.guest_access").toBe(row.guest_access);
      },
    );
  }

  test(
    `the trusted_private_chat preset gives invitees the creator's power level (room versions ${versionRange(FINITE_CREATOR_VERSIONS)}, using the server's highest)`,
    spec(CREATE_ROOM, "1.0"),
    async ({ alice, bob, offeredRoomVersions, skip }) => {
      const version = newestOffered(FINITE_CREATOR_VERSIONS, offeredRoomVersions);
      if (!version) skip(`the server offers none of room versions ${versionRange(FINITE_CREATOR_VERSIONS)}, whose creators have a finite power level (available: ${Object.keys(offeredRoomVersions.available).join(", ")})`);
      const roomId = await alice.createRoom({ preset: "trusted_private_chat", invite: [bob.userId], room_version: version });
      const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
      expect(pl.users?.[alice.userId], "the creator's level in users").toBe(100);
      expect(pl.users?.[bob.userId], "the invitee's level equals the creator's").toBe(pl.users?.[alice.userId]);
    },
  );

  testWithInfiniteCreators(
    `the trusted_private_chat preset makes invitees additional creators (room version ${INFINITE_CREATOR_VERSION})`,
    // create_room.yaml: "the users specified in the `invite` parameter SHOULD also be appended to
    // `additional_creators` by the server".
    spec(CREATE_ROOM, "1.16", { level: "SHOULD" }),
    async ({ alice, bob, roomVersion }) => {
      // In v12 creators have infinite power that no `users` entry can express, so the only way to
      // give invitees "the same power level as the room creator" (the preset table) is to make
      // them creators, which the createRoom description says servers SHOULD do.
      const roomId = await alice.createRoom({ preset: "trusted_private_chat", invite: [bob.userId], room_version: roomVersion });
      const create = await alice.getState<Body>(roomId, "m.room.create");
      expect(create.additional_creators, "m.room.create additional_creators").toContain(bob.userId);
    },
  );

  testWithInfiniteCreators(
    `an additional creator from creation_content is not listed in the users of m.room.power_levels (room version ${INFINITE_CREATOR_VERSION})`,
    // creation_content keys are added to the m.room.create content; the v12 authorisation rules
    // reject a power levels event whose `users` names a creator, so the server's own initial
    // m.room.power_levels must leave the additional creator out.
    spec(CREATE_ROOM, "1.16"),
    async ({ alice, bob, roomVersion }) => {
      const roomId = await alice.createRoom({ preset: "private_chat", room_version: roomVersion, creation_content: { additional_creators: [bob.userId] } });
      const create = await alice.getState<Body>(roomId, "m.room.create");
      expect(create.additional_creators, "m.room.create additional_creators").toContain(bob.userId);
      const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
      expect(Object.keys(pl.users ?? {}), "creators are never listed in users").not.toContain(bob.userId);
    },
  );

  test(
    "initial_state takes precedence over the preset's events",
    spec(CREATE_ROOM, "1.0"),
    async ({ alice }) => {
      const roomId = await alice.createRoom({
        preset: "public_chat",
        initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
      });
      expect((await alice.getState(roomId, "m.room.history_visibility")).history_visibility, "history_visibility from initial_state, not the preset's shared").toBe("joined");
      // The rest of the preset still applies.
      expect((await alice.getState(roomId, "m.room.join_rules")).join_rule, "the preset's join_rule, which initial_state does not set").toBe("public");
    },
  );
});

// ---- name, topic, initial_state, invite ----

describe("POST /createRoom content", () => {
  test("name and topic become m.room.name and m.room.topic state", spec(CREATE_ROOM, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({ name: "Conformance room", topic: "What the room is for" });
    expect((await alice.getState(roomId, "m.room.name")).name, "m.room.name from name").toBe("Conformance room");
    expect((await alice.getState(roomId, "m.room.topic")).topic, "m.room.topic from topic").toBe("What the room is for");
  });

  test("name and topic overwrite m.room.name and m.room.topic given in initial_state", spec(CREATE_ROOM, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({
      name: "from name",
      topic: "from topic",
      initial_state: [
        { type: "m.room.name", state_key: "", content: { name: "from initial_state" } },
        { type: "m.room.topic", state_key: "", content: { topic: "from initial_state" } },
      ],
    });
    expect((await alice.getState(roomId, "m.room.name")).name, "name wins over an m.room.name in initial_state").toBe("from name");
    expect((await alice.getState(roomId, "m.room.topic")).topic, "topic wins over an m.room.topic in initial_state").toBe("from topic");
  });

  test("initial_state events are set in the new room, with their state keys", spec(CREATE_ROOM, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({
      initial_state: [
        { type: "org.example.conformance", state_key: "k1", content: { n: 1 } },
        { type: "org.example.conformance", content: { n: 0 } },
      ],
    });
    expect(await alice.getState(roomId, "org.example.conformance", "k1"), "the initial_state event with state key k1").toEqual({ n: 1 });
    // state_key defaults to the empty string.
    expect(await alice.getState(roomId, "org.example.conformance", ""), "the initial_state event without a state_key, under the empty state key").toEqual({ n: 0 });
  });

  test("the invite list invites each user, who sees the room under rooms.invite in /sync", spec(CREATE_ROOM, "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ invite: [bob.userId] });
    const member = await alice.getState<Body>(roomId, "m.room.member", bob.userId);
    expect(member.membership, "the invitee's membership").toBe("invite");
    await bob.syncUntil(`room ${roomId} under rooms.invite`, (res) => res.rooms?.invite?.[roomId] !== undefined);
  });

  test("applies the creation events in the order the spec lists", spec(CREATE_ROOM, "1.0"), async ({ alice, bob }) => {
    const aliasLocal = uniqueLocalpart("order");
    const roomId = await alice.createRoom({
      preset: "private_chat",
      room_alias_name: aliasLocal,
      initial_state: [
        { type: "org.example.first", state_key: "", content: {} },
        { type: "org.example.second", state_key: "", content: {} },
      ],
      name: "ordered",
      topic: "ordered",
      invite: [bob.userId],
    });
    const events = (await wholeTimeline(alice, roomId, (e) => e.type === "m.room.member" && e.state_key === bob.userId, "bob's invite")).reverse();
    const at = (pred: (e: Body) => boolean, what: string): number => {
      const i = events.findIndex(pred);
      expect(i, `${what} is in the room's timeline`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const create = at((e) => e.type === "m.room.create", "m.room.create");
    const join = at((e) => e.type === "m.room.member" && e.state_key === alice.userId && e.content.membership === "join", "the creator's join");
    const pl = at((e) => e.type === "m.room.power_levels", "m.room.power_levels");
    const alias = at((e) => e.type === "m.room.canonical_alias", "m.room.canonical_alias");
    const preset = ["m.room.join_rules", "m.room.history_visibility", "m.room.guest_access"].map((t) => at((e) => e.type === t, t));
    const first = at((e) => e.type === "org.example.first", "the first initial_state event");
    const second = at((e) => e.type === "org.example.second", "the second initial_state event");
    const name = at((e) => e.type === "m.room.name", "m.room.name");
    const topic = at((e) => e.type === "m.room.topic", "m.room.topic");
    const invite = at((e) => e.type === "m.room.member" && e.state_key === bob.userId, "the invite");
    expect(create, "m.room.create is the first event").toBe(0);
    expect(join, "the creator's join follows m.room.create").toBeGreaterThan(create);
    expect(pl, "power levels follow the creator's join").toBeGreaterThan(join);
    expect(alias, "the canonical alias follows the power levels").toBeGreaterThan(pl);
    for (const p of preset) {
      expect(p, "preset events follow the canonical alias").toBeGreaterThan(alias);
      expect(p, "preset events precede initial_state").toBeLessThan(first);
    }
    expect(second, "initial_state events keep their listed order").toBeGreaterThan(first);
    expect(Math.min(name, topic), "name and topic follow initial_state").toBeGreaterThan(second);
    expect(invite, "invites come last").toBeGreaterThan(Math.max(name, topic));
  });
});

// ---- room versions ----

describe("POST /createRoom room_version", () => {
  for (const version of CREATE_EVENT_CLASSES) {
    test.extend(inRoomVersion(version))(
      `creates a room of the requested version (room version ${version})`,
      spec(CREATE_ROOM, rulesOf(version).since),
      async ({ alice, roomVersion }) => {
        const roomId = await alice.createRoom({ room_version: roomVersion });
        expect(await roomVersionOf(alice, roomId), "m.room.create content.room_version").toBe(roomVersion);
      },
    );
  }

  test("uses the default version from m.room_versions when room_version is omitted", spec(CREATE_ROOM, "1.0"), async ({ alice, offeredRoomVersions }) => {
    // createRoom's room_version: "If not provided, the homeserver is to use its configured default" (the m.room_versions capability's `default`).
    const roomId = await alice.createRoom({});
    expect(await roomVersionOf(alice, roomId), "the room's version, without room_version in the request").toBe(offeredRoomVersions.default);
  });

  test("rejects a room version the server does not support with 400 M_UNSUPPORTED_ROOM_VERSION", spec(CREATE_ROOM, "1.0"), async ({ alice, offeredRoomVersions }) => {
    // A well-formed ID that no server offers: "MUST NOT exceed 32 codepoints" and only a-z, 0-9, "." and "-" (#room-versions).
    const bogus = `nosuch.${uniqueLocalpart("v")}`.slice(0, 32);
    expect(Object.keys(offeredRoomVersions.available), "the made-up version must not be offered").not.toContain(bogus);
    const res = await alice.post(cs.v3`/createRoom`, { room_version: bogus });
    expect(res).toBeMatrixError(400, "M_UNSUPPORTED_ROOM_VERSION");
  });
});

// ---- the creator ----

describe("the room creator", () => {
  for (const version of FINITE_CREATOR_CLASSES) {
    test.extend(inRoomVersion(version))(
      `is joined, is the sender of m.room.create and has power level 100 (room version ${version})`,
      spec("client-server-api/#permissions", rulesOf(version).since),
      async ({ alice, roomVersion }) => {
        const roomId = await alice.createRoom({ room_version: roomVersion });
        expect((await alice.getState(roomId, "m.room.member", alice.userId)).membership, "the creator's membership").toBe("join");
        const state = await alice.step<Body[]>("read the room state", "GET", cs.v3`/rooms/${roomId}/state`);
        expect(state.find((e) => e.type === "m.room.create")?.sender, "the sender of m.room.create").toBe(alice.userId);
        const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
        expect(pl.users?.[alice.userId], "the creator's entry in users").toBe(100);
      },
    );
  }

  testWithInfiniteCreators(
    `is joined, is not listed in power levels, and m.room.tombstone needs more than state_default (room version ${INFINITE_CREATOR_VERSION})`,
    spec(CREATE_ROOM, "1.16"),
    async ({ alice, roomVersion }) => {
      const roomId = await alice.createRoom({ room_version: roomVersion });
      expect((await alice.getState(roomId, "m.room.member", alice.userId)).membership, "the creator's membership").toBe("join");
      const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
      expect(Object.keys(pl.users ?? {}), "creators cannot be listed in users").not.toContain(alice.userId);
      const stateDefault = pl.state_default ?? 50;
      expect(pl.events?.["m.room.tombstone"], "m.room.tombstone must be set explicitly").toBeTypeOf("number");
      expect(pl.events["m.room.tombstone"], "m.room.tombstone level above state_default").toBeGreaterThan(stateDefault);
    },
  );

  testWithInfiniteCreators(
    `has a power level above any integer level, so can require and then meet a very high level (room version ${INFINITE_CREATOR_VERSION})`,
    // rooms/v12/#authorisation-rules decide; the act is one state PUT.
    spec(PUT_STATE, "1.16"),
    async ({ alice, roomVersion }) => {
      const roomId = await alice.createRoom({ room_version: roomVersion });
      const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
      const high = 2 ** 53 - 1; // the largest level canonical JSON allows
      await alice.sendState(roomId, "m.room.power_levels", "", { ...pl, events: { ...(pl.events ?? {}), "org.example.high": high } });
      const res = await alice.put(cs.v3`/rooms/${roomId}/state/org.example.high/`, { ok: true });
      expect(res).toHaveStatus(200);
    },
  );

  testWithInfiniteCreators(
    `cannot be listed in the users of m.room.power_levels (room version ${INFINITE_CREATOR_VERSION})`,
    // rooms/v12/#authorisation-rules decide; the act is one state PUT.
    spec(PUT_STATE, "1.16"),
    async ({ alice, roomVersion }) => {
      const roomId = await alice.createRoom({ room_version: roomVersion });
      const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
      const res = await alice.put(cs.v3`/rooms/${roomId}/state/m.room.power_levels/`, { ...pl, users: { ...(pl.users ?? {}), [alice.userId]: 100 } });
      expect(res).toBeMatrixError([400, 403], undefined, "authorisation rule 10.4 rejects a power levels event naming a creator in users; the endpoint refuses it as malformed (400) or forbidden (403)");
      const after = await alice.getState<Body>(roomId, "m.room.power_levels");
      expect(Object.keys(after.users ?? {}), "the users of the current power levels, after the refused change").not.toContain(alice.userId);
    },
  );
});

// ---- creation_content and power_level_content_override ----

describe("POST /createRoom creation_content and power_level_content_override", () => {
  test("merges creation_content keys into the m.room.create content", spec(CREATE_ROOM, "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom({ creation_content: { "m.federate": false, "org.example.marker": "kept" } });
    const create = await alice.getState<Body>(roomId, "m.room.create");
    expect(create["m.federate"], "m.federate from creation_content").toBe(false);
    expect(create["org.example.marker"], "a custom key from creation_content").toBe("kept");
  });

  test("a room type given in creation_content becomes the create event's type", spec(CREATE_ROOM, "1.2"), async ({ alice }) => {
    // Room types (#types, v1.2) are set through creation_content's `type`.
    const roomId = await alice.createRoom({ creation_content: { type: "org.example.conformance_room" } });
    expect((await alice.getState<Body>(roomId, "m.room.create")).type, "m.room.create content.type").toBe("org.example.conformance_room");
  });

  test("overwrites room_version given in creation_content with the room's real version", spec(CREATE_ROOM, "1.0"), async ({ alice, offeredRoomVersions }) => {
    const roomId = await alice.createRoom({ creation_content: { room_version: "org.example.not-the-version" } });
    expect(await roomVersionOf(alice, roomId), "m.room.create content.room_version: the server's default, not creation_content's").toBe(offeredRoomVersions.default);
  });

  test(
    `overwrites creator given in creation_content with the creating user (room versions ${versionRange(CREATOR_KEY_VERSIONS)}, using the server's highest)`,
    spec(CREATE_ROOM, "1.0"),
    async ({ alice, bob, offeredRoomVersions, skip }) => {
      const version = newestOffered(CREATOR_KEY_VERSIONS, offeredRoomVersions);
      if (!version) skip(`the server offers none of room versions ${versionRange(CREATOR_KEY_VERSIONS)}, the ones with a creator key (available: ${Object.keys(offeredRoomVersions.available).join(", ")})`);
      const roomId = await alice.createRoom({ room_version: version, creation_content: { creator: bob.userId } });
      expect((await alice.getState<Body>(roomId, "m.room.create")).creator, "m.room.create content.creator: the creating user, not creation_content's").toBe(alice.userId);
    },
  );

  test("applies power_level_content_override on top of the default power levels", spec(CREATE_ROOM, "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({
      preset: "public_chat",
      power_level_content_override: { invite: 42, events: { "org.example.ev": 33 }, users_default: 7 },
    });
    const pl = await alice.getState<Body>(roomId, "m.room.power_levels");
    expect(pl.invite, "invite from the override").toBe(42);
    expect(pl.events?.["org.example.ev"], "an events entry from the override").toBe(33);
    expect(pl.users_default, "users_default from the override").toBe(7);
    // The override has an effect: a user who joins gets users_default (7), below the event's level (33).
    await bob.joinRoom(roomId);
    const res = await bob.put(cs.v3`/rooms/${roomId}/send/org.example.ev/${newTxnId()}`, { x: 1 });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });
});

// ---- aliases ----

describe("POST /createRoom room_alias_name", () => {
  test("creates an alias on the server that resolves to the room and becomes the canonical alias", spec(CREATE_ROOM, "1.0"), async ({ alice, bob }) => {
    const local = uniqueLocalpart("mc");
    const alias = `#${local}:${serverNameOf(alice.userId)}`;
    const roomId = await alice.createRoom({ room_alias_name: local });
    const res = await bob.get(cs.v3`/directory/room/${alias}`);
    expect(res).toHaveStatus(200);
    expect(res.body.room_id, "the room the alias resolves to").toBe(roomId);
    expect((await alice.getState<Body>(roomId, "m.room.canonical_alias")).alias, "m.room.canonical_alias alias").toBe(alias);
  });

  test("rejects an alias that is already taken with 400 M_ROOM_IN_USE", spec(CREATE_ROOM, "1.0"), async ({ alice, bob }) => {
    const local = uniqueLocalpart("mc");
    await alice.createRoom({ room_alias_name: local });
    const res = await bob.post(cs.v3`/createRoom`, { room_alias_name: local });
    expect(res).toBeMatrixError(400, "M_ROOM_IN_USE");
  });
});
