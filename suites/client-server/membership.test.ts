// Room membership: invite, join, leave, kick, ban and unban, and the member lists that show it.
// Spec: client-server-api/#room-membership, #joining-rooms, #leaving-rooms, #banning-users-in-a-room.
import { cs, describe, expect, spec, test, type Body, type MatrixClient } from "../../harness/fixtures/index.ts";

// ---- local helpers ----

/** The current m.room.member event of `userId`, as listed by GET /state (with its sender). */
async function memberEvent(client: MatrixClient, roomId: string, userId: string): Promise<Body> {
  const state = await client.step<Body[]>("read the room state", "GET", cs.v3`/rooms/${roomId}/state`);
  const ev = state.find((e) => e.type === "m.room.member" && e.state_key === userId);
  expect(ev, `an m.room.member event for ${userId}`).toBeDefined();
  return ev;
}

async function membershipOf(client: MatrixClient, roomId: string, userId: string): Promise<string> {
  return (await client.getState<Body>(roomId, "m.room.member", userId)).membership;
}

/** The joined members as listed by GET /members?membership=join. */
async function joinedMembers(client: MatrixClient, roomId: string): Promise<string[]> {
  const res = await client.get(cs.v3`/rooms/${roomId}/members`, { query: { membership: "join" } });
  expect(res).toHaveStatus(200);
  return (res.body.chunk as Body[]).map((e) => e.state_key);
}

// The join endpoint's 403 lists "the user has been banned" among its reasons and asks only for "a
// meaningful errcode", so a banned user's join is checked for 403 with any errcode.
const BANNED_JOIN = "a banned user's join is refused with 403 and a meaningful errcode (#post_matrixclientv3joinroomidoralias)";

// ---- invite and join ----

describe("inviting and joining", () => {
  test("an invite makes the invitee's membership invite, sent by the inviter; joining then makes it join", spec("client-server-api/#post_matrixclientv3roomsroomidinvite", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    const invite = await alice.post(cs.v3`/rooms/${roomId}/invite`, { user_id: bob.userId });
    expect(invite).toHaveStatus(200);
    const ev = await memberEvent(alice, roomId, bob.userId);
    expect(ev.content.membership, "the invitee's membership after the invite").toBe("invite");
    expect(ev.sender, "the invite's sender is the inviter").toBe(alice.userId);
    const join = await bob.post(cs.v3`/rooms/${roomId}/join`, {});
    expect(join).toHaveStatus(200);
    expect(join.body.room_id, "POST /join answers the joined room's ID").toBe(roomId);
    expect(await membershipOf(alice, roomId, bob.userId), "the invitee's membership after joining").toBe("join");
  });

  test("the invitee's /sync invite_state includes the room's m.room.create event", spec("client-server-api/#get_matrixclientv3sync", "1.16"), async ({ alice, bob }) => {
    // #stripped-state: "The `m.room.create` event is now **required** in" stripped state (v1.16).
    const roomId = await alice.createRoom({ preset: "private_chat", name: "come in" });
    await alice.invite(roomId, bob.userId);
    const res = await bob.syncUntil(`an invite to ${roomId}`, (r) => r.rooms?.invite?.[roomId] !== undefined);
    const types = (res.rooms!.invite![roomId]!.invite_state?.events ?? []).map((e: Body) => e.type);
    expect(types, "event types in the invitee's invite_state").toContain("m.room.create");
  });

  test("a user joins a public room by ID without an invite", spec("client-server-api/#post_matrixclientv3joinroomidoralias", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    const res = await bob.post(cs.v3`/join/${roomId}`, {});
    expect(res).toHaveStatus(200);
    expect(res.body.room_id, "POST /join answers the joined room's ID").toBe(roomId);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership of a user who joined a public room").toBe("join");
  });

  test("joining an invite-only room without an invite is refused with 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3joinroomidoralias", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    const res = await bob.post(cs.v3`/join/${roomId}`, {});
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    await alice.syncUntilMembership(roomId, alice.userId, "join");
    expect(await joinedMembers(alice, roomId), "joined members after a refused join").not.toContain(bob.userId);
  });

  test("a member below the invite level cannot invite: 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3roomsroomidinvite", "1.0"), async ({ alice, bob, charlie }) => {
    const roomId = await alice.createRoom({ preset: "public_chat", power_level_content_override: { invite: 50 } });
    await bob.joinRoom(roomId);
    const res = await bob.post(cs.v3`/rooms/${roomId}/invite`, { user_id: charlie.userId });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    await alice.syncUntilMembership(roomId, bob.userId, "join");
    const members = await alice.get(cs.v3`/rooms/${roomId}/members`);
    expect((members.body.chunk as Body[]).some((e) => e.state_key === charlie.userId), "charlie has no membership").toBe(false);
  });

  test("inviting a user who is already joined is refused with 403", spec("client-server-api/#post_matrixclientv3roomsroomidinvite", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    const res = await alice.post(cs.v3`/rooms/${roomId}/invite`, { user_id: bob.userId });
    expect(res).toHaveStatus(403);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership of a joined user after a refused invite").toBe("join");
  });
});

// ---- leave ----

describe("leaving", () => {
  test("leaving makes the membership leave and removes the user from the joined members", spec("client-server-api/#post_matrixclientv3roomsroomidleave", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await alice.syncUntilMembership(roomId, bob.userId, "join");
    expect(await joinedMembers(alice, roomId), "joined members before the leave").toContain(bob.userId);
    const res = await bob.post(cs.v3`/rooms/${roomId}/leave`, {});
    expect(res).toHaveStatus(200);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership after leaving").toBe("leave");
    await alice.syncUntilMembership(roomId, bob.userId, "leave");
    expect(await joinedMembers(alice, roomId), "joined members after the leave").not.toContain(bob.userId);
  });

  test("leaving a room the user is invited to rejects the invite", spec("client-server-api/#post_matrixclientv3roomsroomidleave", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    await alice.invite(roomId, bob.userId);
    const res = await bob.post(cs.v3`/rooms/${roomId}/leave`, {});
    expect(res).toHaveStatus(200);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership after rejecting the invite").toBe("leave");
    expect(await bob.post(cs.v3`/join/${roomId}`, {}), "the rejected invite no longer lets bob in").toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("after leaving an invite-only room, rejoining needs a new invite (403 M_FORBIDDEN)", spec("client-server-api/#post_matrixclientv3joinroomidoralias", "1.0"), async ({ alice, bob }) => {
    // #leaving-rooms: "if the room is an "invite-only" room the user will need to be re-invited
    // before they can re-join the room".
    const roomId = await alice.createRoom({ preset: "private_chat" });
    await alice.invite(roomId, bob.userId);
    await bob.joinRoom(roomId);
    await bob.leave(roomId);
    expect(await bob.post(cs.v3`/join/${roomId}`, {})).toBeMatrixError(403, "M_FORBIDDEN");
    await alice.invite(roomId, bob.userId);
    expect(await bob.post(cs.v3`/join/${roomId}`, {}), "with a new invite").toHaveStatus(200);
  });
});

// ---- kick ----

describe("kicking", () => {
  test("a kick makes the target's membership leave, with the kicker as sender and the reason kept", spec("client-server-api/#post_matrixclientv3roomsroomidkick", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    const res = await alice.post(cs.v3`/rooms/${roomId}/kick`, { user_id: bob.userId, reason: "testing kicks" });
    expect(res).toHaveStatus(200);
    const ev = await memberEvent(alice, roomId, bob.userId);
    expect(ev.content.membership, "the kicked user's membership").toBe("leave");
    expect(ev.sender, "the kick's sender is the kicker").toBe(alice.userId);
    expect(ev.content.reason, "the kick's reason is kept in the member event").toBe("testing kicks");
  });

  test("a member below the kick level cannot kick: 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3roomsroomidkick", "1.0"), async ({ alice, bob, charlie }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await charlie.joinRoom(roomId);
    const res = await charlie.post(cs.v3`/rooms/${roomId}/kick`, { user_id: bob.userId });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    expect(await membershipOf(alice, roomId, bob.userId), "the membership of the user a refused kick aimed at").toBe("join");
  });

  test("a kicked user may rejoin a public room", spec("client-server-api/#post_matrixclientv3joinroomidoralias", "1.0"), async ({ alice, bob }) => {
    // #leaving-rooms: once kicked, "the user is free to re-join if the room is not "invite-only"".
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await alice.step("kick bob", "POST", cs.v3`/rooms/${roomId}/kick`, { body: { user_id: bob.userId } });
    const res = await bob.post(cs.v3`/join/${roomId}`, {});
    expect(res).toHaveStatus(200);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership of a kicked user who rejoined").toBe("join");
  });
});

// ---- ban and unban ----

describe("banning", () => {
  test("a ban makes the target's membership ban, and the banned user's join is refused with 403", spec("client-server-api/#post_matrixclientv3roomsroomidban", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    const res = await alice.post(cs.v3`/rooms/${roomId}/ban`, { user_id: bob.userId, reason: "testing bans" });
    expect(res).toHaveStatus(200);
    const ev = await memberEvent(alice, roomId, bob.userId);
    expect(ev.content.membership, "the banned user's membership").toBe("ban");
    expect(ev.sender, "the ban's sender is the banner").toBe(alice.userId);
    expect(ev.content.reason, "the ban's reason is kept in the member event").toBe("testing bans");
    expect(await bob.post(cs.v3`/join/${roomId}`, {})).toBeMatrixError(403, undefined, BANNED_JOIN);
  });

  test("a user can be banned before ever joining, and then cannot join", spec("client-server-api/#post_matrixclientv3roomsroomidban", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    expect(await alice.post(cs.v3`/rooms/${roomId}/ban`, { user_id: bob.userId })).toHaveStatus(200);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership of a user banned before joining").toBe("ban");
    expect(await bob.post(cs.v3`/join/${roomId}`, {})).toBeMatrixError(403, undefined, BANNED_JOIN);
  });

  test("a banned user cannot be invited: 403", spec("client-server-api/#post_matrixclientv3roomsroomidinvite", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    await alice.step("ban bob", "POST", cs.v3`/rooms/${roomId}/ban`, { body: { user_id: bob.userId } });
    const res = await alice.post(cs.v3`/rooms/${roomId}/invite`, { user_id: bob.userId });
    expect(res).toHaveStatus(403);
    expect(await membershipOf(alice, roomId, bob.userId), "a banned user's membership after a refused invite").toBe("ban");
  });

  test("a member below the ban level cannot ban: 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3roomsroomidban", "1.0"), async ({ alice, bob, charlie }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await charlie.joinRoom(roomId);
    const res = await charlie.post(cs.v3`/rooms/${roomId}/ban`, { user_id: bob.userId });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    expect(await membershipOf(alice, roomId, bob.userId), "the membership of the user a refused ban aimed at").toBe("join");
  });

  test("an unban makes the membership leave, and the user can rejoin a public room", spec("client-server-api/#post_matrixclientv3roomsroomidunban", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await alice.step("ban bob", "POST", cs.v3`/rooms/${roomId}/ban`, { body: { user_id: bob.userId } });
    const res = await alice.post(cs.v3`/rooms/${roomId}/unban`, { user_id: bob.userId });
    expect(res).toHaveStatus(200);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership after the unban").toBe("leave");
    expect(await bob.post(cs.v3`/join/${roomId}`, {})).toHaveStatus(200);
    expect(await membershipOf(alice, roomId, bob.userId), "the membership after rejoining").toBe("join");
  });

  test("a member below the ban level cannot unban: 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3roomsroomidunban", "1.0"), async ({ alice, bob, charlie }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await charlie.joinRoom(roomId);
    await alice.step("ban bob", "POST", cs.v3`/rooms/${roomId}/ban`, { body: { user_id: bob.userId } });
    const res = await charlie.post(cs.v3`/rooms/${roomId}/unban`, { user_id: bob.userId });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
    expect(await membershipOf(alice, roomId, bob.userId), "the banned user's membership after a refused unban").toBe("ban");
  });
});

// ---- member lists ----

describe("GET /rooms/{roomId}/members and /joined_members", () => {
  test("/members lists every membership, following joins, invites, leaves and bans", spec("client-server-api/#get_matrixclientv3roomsroomidmembers", "1.0"), async ({ alice, bob, charlie, newUser }) => {
    const dave = await newUser({ prefix: "dave" });
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await charlie.joinRoom(roomId);
    await charlie.leave(roomId);
    await alice.invite(roomId, dave.userId);
    const eve = await newUser({ prefix: "eve" });
    await alice.step("ban eve", "POST", cs.v3`/rooms/${roomId}/ban`, { body: { user_id: eve.userId } });
    // Read once the ban is in the room (it shows in /sync): a server may apply it a moment after
    // the ban request returns.
    await alice.syncUntilMembership(roomId, eve.userId, "ban");
    const res = await alice.get(cs.v3`/rooms/${roomId}/members`);
    expect(res).toHaveStatus(200);
    const byUser = Object.fromEntries((res.body.chunk as Body[]).filter((e) => e.type === "m.room.member").map((e) => [e.state_key, e.content.membership]));
    expect(byUser, "each user's membership as /members lists it").toEqual({ [alice.userId]: "join", [bob.userId]: "join", [charlie.userId]: "leave", [dave.userId]: "invite", [eve.userId]: "ban" });
  });

  test("/members with membership=join lists only joined members", spec("client-server-api/#get_matrixclientv3roomsroomidmembers", "1.0"), async ({ alice, bob, charlie }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await alice.invite(roomId, charlie.userId);
    await alice.syncUntilMembership(roomId, charlie.userId, "invite");
    const res = await alice.get(cs.v3`/rooms/${roomId}/members`, { query: { membership: "join" } });
    expect(res).toHaveStatus(200);
    const users = (res.body.chunk as Body[]).map((e) => e.state_key).sort();
    expect(users, "the users /members?membership=join lists").toEqual([alice.userId, bob.userId].sort());
  });

  test("/joined_members lists exactly the joined users", spec("client-server-api/#get_matrixclientv3roomsroomidjoined_members", "1.0"), async ({ alice, bob, charlie }) => {
    // The response schema types RoomMember.avatar_url as a string; Synapse 1.163.2 sends
    // "avatar_url": null for users without an avatar, which the harness's schema check reports.
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    await charlie.joinRoom(roomId);
    await charlie.leave(roomId);
    const res = await bob.get(cs.v3`/rooms/${roomId}/joined_members`);
    expect(res).toHaveStatus(200);
    expect(Object.keys(res.body.joined ?? {}).sort(), "the users /joined_members lists").toEqual([alice.userId, bob.userId].sort());
  });

  test("/members for a user who was never in the room answers 403", spec("client-server-api/#get_matrixclientv3roomsroomidmembers", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    const res = await bob.get(cs.v3`/rooms/${roomId}/members`);
    expect(res).toHaveStatus(403);
  });

  test("/joined_members for a user who is not in the room answers 403", spec("client-server-api/#get_matrixclientv3roomsroomidjoined_members", "1.0"), async ({ alice, bob }) => {
    const roomId = await alice.createRoom({ preset: "private_chat" });
    const res = await bob.get(cs.v3`/rooms/${roomId}/joined_members`);
    expect(res).toHaveStatus(403);
  });
});
