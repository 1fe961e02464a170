// EDUs both ways between a peer and the target: typing notifications, read receipts, presence and
// device lists. A peer creates the room and a target user joins it, so the two servers share a
// room (what the EDUs need) without depending on the target's make_join.
// Spec: server-server-api/#edus, #typing-notifications, #receipts, #presence, #device-management.
import { randomBytes } from "node:crypto";
import { encodeBase64, generateSigningKey, signJson } from "../../harness/crypto/index.ts";
import { FEDERATION_WAIT_MS, cs, describe, ephemeral, expect, fed, peerRoomWithTargetUser, spec, test, type FederationPeer, type ReceivedEdu, type UserClient } from "../../harness/fixtures/federation.ts";
import { ONE_VERSION } from "./room-version-classes.ts";

const TYPING = "server-server-api/#typing-notifications";
const RECEIPTS = "server-server-api/#receipts";
const PRESENCE = "server-server-api/#presence";
const DEVICES = "server-server-api/#device-management";

/**
 * A room the peer creates (its user bob as creator) with the target user alice joined: the room
 * two servers must share for EDUs to flow. EDUs do not depend on the room version, so the room is
 * in the suites' one version for version-independent bodies (ONE_VERSION).
 */
const roomSharedWithPeer = (peer: FederationPeer, alice: UserClient, skip: (note: string) => never) => peerRoomWithTargetUser(peer, alice, ONE_VERSION, skip);

describe("typing notifications", () => {
  test("an m.typing EDU from a peer shows its user typing in the target user's /sync", spec(TYPING, "1.0"), async ({ peer, alice, skip }) => {
    const { room, bob } = await roomSharedWithPeer(peer, alice, skip);
    const res = await peer.sendTransaction(peer.targetServerName, { edus: [{ edu_type: "m.typing", content: { room_id: room.roomId, user_id: bob, typing: true } }] });
    expect(res).toHaveStatus(200);
    await alice.syncUntil(`${bob} typing in ${room.roomId}`, (s) => ephemeral(s, room.roomId, "m.typing").some((e) => (e.content?.user_ids ?? []).includes(bob)));
  });

  test("a target user typing reaches the peer as an m.typing EDU naming the room and user", spec(TYPING, "1.0"), async ({ peer, alice, skip }) => {
    const { room } = await roomSharedWithPeer(peer, alice, skip);
    await alice.step("start typing", "PUT", cs.v3`/rooms/${room.roomId}/typing/${alice.userId}`, { body: { typing: true, timeout: 30_000 } });
    const edu = await peer.waitForEdu(
      (e) => e.edu_type === "m.typing" && (e.content as Record<string, unknown>)?.room_id === room.roomId && (e.content as Record<string, unknown>)?.user_id === alice.userId,
      10_000,
      `m.typing for ${alice.userId}`,
    );
    expect((edu.content as Record<string, unknown>).typing, "typing").toBe(true);
  });
});

describe("read receipts", () => {
  test("an m.receipt EDU from a peer shows in the target user's /sync for the event it names", spec(RECEIPTS, "1.0"), async ({ peer, alice, skip }) => {
    const { room, bob } = await roomSharedWithPeer(peer, alice, skip);
    const eventId = await peer.sendMessage(room.roomId, bob, "read me");
    await alice.syncUntilEvent(room.roomId, (e) => e.event_id === eventId, "the peer's message");
    const ts = Date.now();
    const res = await peer.sendTransaction(peer.targetServerName, {
      edus: [{ edu_type: "m.receipt", content: { [room.roomId]: { "m.read": { [bob]: { event_ids: [eventId], data: { ts } } } } } }],
    });
    expect(res).toHaveStatus(200);
    await alice.syncUntil(`${bob}'s read receipt for ${eventId}`, (s) =>
      ephemeral(s, room.roomId, "m.receipt").some((e) => e.content?.[eventId]?.["m.read"]?.[bob] !== undefined),
    );
  });

  test("a target user's read receipt reaches the peer as an m.receipt EDU with the event and a timestamp", spec(RECEIPTS, "1.0"), async ({ peer, alice, skip }) => {
    const { room, bob } = await roomSharedWithPeer(peer, alice, skip);
    const eventId = await peer.sendMessage(room.roomId, bob, "please read");
    await alice.syncUntilEvent(room.roomId, (e) => e.event_id === eventId, "the peer's message");
    await alice.step("send a read receipt", "POST", cs.v3`/rooms/${room.roomId}/receipt/m.read/${eventId}`, { body: {} });
    const receiptOf = (e: ReceivedEdu) => (e.content as Record<string, any>)?.[room.roomId]?.["m.read"]?.[alice.userId];
    const edu = await peer.waitForEdu((e) => e.edu_type === "m.receipt" && receiptOf(e) !== undefined, FEDERATION_WAIT_MS, `m.receipt from ${alice.userId}`);
    const receipt = receiptOf(edu);
    expect(receipt.event_ids, "event_ids").toContain(eventId);
    expect(Number.isInteger(receipt.data?.ts), `data.ts ${JSON.stringify(receipt.data?.ts)} is an integer timestamp`).toBe(true);
  });
});

describe("presence", () => {
  /**
   * Sets the target user online. PUT /presence/{userId}/status documents only 200 and 429, and the
   * spec has no way for a server to switch presence off, so anything else fails with the status;
   * a 429 (rate limited, a documented answer) skips the test, saying so.
   */
  async function presenceOn(alice: UserClient, skip: (note: string) => never) {
    const res = await alice.put(cs.v3`/presence/${alice.userId}/status`, { presence: "online", status_msg: "testing federation" });
    if (res.status === 429) skip("the target rate-limits its user's presence update (429, a documented answer)");
    expect(res, "PUT /presence/{userId}/status answers 200 (it documents only 200 and 429)").toHaveStatus(200);
  }

  test("a target user's presence reaches the peer as an m.presence EDU", spec(PRESENCE, "1.0"), async ({ peer, alice, skip }) => {
    await roomSharedWithPeer(peer, alice, skip);
    await presenceOn(alice, skip);
    const of = (e: ReceivedEdu) => ((e.content as { push?: Array<Record<string, unknown>> })?.push ?? []).find((p) => p.user_id === alice.userId && p.presence === "online");
    const edu = await peer.waitForEdu((e) => e.edu_type === "m.presence" && of(e) !== undefined, 15_000, `m.presence online for ${alice.userId}`);
    const update = of(edu)!;
    expect(Number.isInteger(update.last_active_ago), "last_active_ago is required and an integer").toBe(true);
  });

  test("an m.presence EDU from a peer shows in the target user's /sync presence", spec(PRESENCE, "1.0"), async ({ peer, alice, skip }) => {
    const { bob } = await roomSharedWithPeer(peer, alice, skip);
    await presenceOn(alice, skip);
    const res = await peer.sendTransaction(peer.targetServerName, {
      edus: [{ edu_type: "m.presence", content: { push: [{ user_id: bob, presence: "online", last_active_ago: 0, currently_active: true, status_msg: "from the peer" }] } }],
    });
    expect(res).toHaveStatus(200);
    const found = await alice.syncUntil(`${bob}'s presence`, (s) => (s.presence?.events ?? []).some((e: { sender?: string; content?: { presence?: string } }) => e.sender === bob && e.content?.presence === "online"));
    const event = (found.presence?.events ?? []).find((e: { sender?: string }) => e.sender === bob);
    expect(event.content.status_msg, "status_msg").toBe("from the peer");
  });
});

describe("device lists", () => {
  test("a target user signing in on a new device sends the peer an m.device_list_update for it", spec(DEVICES, "1.0"), async ({ peer, alice, api, skip }) => {
    // Servers must send m.device_list_update EDUs to every server sharing a room with the user
    // whenever the user's device list changes, new devices included.
    await roomSharedWithPeer(peer, alice, skip);
    const login = await api.post(cs.v3`/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: alice.password, initial_device_display_name: "second device" });
    expect(login).toHaveStatus(200);
    const deviceId = String(login.body.device_id);
    const edu = await peer.waitForEdu(
      (e) => e.edu_type === "m.device_list_update" && (e.content as Record<string, unknown>)?.user_id === alice.userId && (e.content as Record<string, unknown>)?.device_id === deviceId,
      15_000,
      `m.device_list_update for ${alice.userId}'s device ${deviceId}`,
    );
    const content = edu.content as Record<string, unknown>;
    expect(Number.isInteger(content.stream_id), "stream_id is an integer").toBe(true);
    expect(content.deleted, "the device is not deleted").not.toBe(true);
  });

  test("GET /user/devices/{userId} lists the target user's device with the identity keys it uploaded", spec("server-server-api/#get_matrixfederationv1userdevicesuserid", "1.0"), async ({ peer, alice, skip }) => {
    // Each listed device requires its `keys`, so a device appears once it has uploaded keys.
    await roomSharedWithPeer(peer, alice, skip);
    const deviceId = alice.deviceId!;
    const key = generateSigningKey((n) => randomBytes(n), deviceId);
    const deviceKeys = signJson(
      {
        user_id: alice.userId,
        device_id: deviceId,
        algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        keys: { [`ed25519:${deviceId}`]: encodeBase64(key.publicKey), [`curve25519:${deviceId}`]: encodeBase64(randomBytes(32)) },
      },
      alice.userId,
      key,
    );
    await alice.step("upload device keys", "POST", cs.v3`/keys/upload`, { body: { device_keys: deviceKeys } });
    const res = await peer.request("GET", fed.v1`/user/devices/${alice.userId}`);
    expect(res).toHaveStatus(200);
    expect(res.body.user_id, "user_id").toBe(alice.userId);
    expect(Number.isInteger(res.body.stream_id), "stream_id is an integer").toBe(true);
    const device = (res.body.devices as Array<{ device_id: string; keys: Record<string, unknown> }>).find((d) => d.device_id === deviceId);
    expect(device, `the device ${deviceId} is listed`).toBeDefined();
    expect((device!.keys as { keys?: unknown }).keys, "the identity keys uploaded").toEqual(deviceKeys.keys);
  });
});
