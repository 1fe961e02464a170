// Queries a peer makes of the target: profiles, room aliases, the published room directory.
// Spec: server-server-api/#querying-for-information, #published-room-directory.
import { cs, describe, expect, fed, spec, test, uniqueLocalpart, type FederationPeer, type Response, type UserClient } from "../../harness/fixtures/federation.ts";

const PROFILE = "server-server-api/#get_matrixfederationv1queryprofile";
const DIRECTORY = "server-server-api/#get_matrixfederationv1querydirectory";
const PUBLIC_GET = "server-server-api/#get_matrixfederationv1publicrooms";
const PUBLIC_POST = "server-server-api/#post_matrixfederationv1publicrooms";

/** A target user with a display name and an avatar URL set. */
async function withProfile(alice: UserClient): Promise<{ displayname: string; avatar_url: string }> {
  const displayname = `Alice ${uniqueLocalpart("name")}`;
  const avatar_url = `mxc://example.org/${uniqueLocalpart("avatar")}`;
  await alice.step("set the display name", "PUT", cs.v3`/profile/${alice.userId}/displayname`, { body: { displayname } });
  await alice.step("set the avatar URL", "PUT", cs.v3`/profile/${alice.userId}/avatar_url`, { body: { avatar_url } });
  return { displayname, avatar_url };
}

/** A profile query; skips when the target uses its right to deny profile look-ups (403 M_FORBIDDEN). */
async function queryProfile(peer: FederationPeer, userId: string, skip: (note: string) => never, field?: string): Promise<Response> {
  const res = await peer.request("GET", fed.v1`/query/profile`, { query: { user_id: userId, field } });
  // "Responding servers MAY ... Deny profile look-up over federation by responding with 403".
  if (res.status === 403 && res.body?.errcode === "M_FORBIDDEN") skip("the target denies profile look-ups over federation (allowed by the spec)");
  return res;
}

describe("GET /query/profile", () => {
  test("without field returns the user's public display name and avatar URL", spec(PROFILE, "1.0"), async ({ peer, alice, skip }) => {
    const profile = await withProfile(alice);
    const res = await queryProfile(peer, alice.userId, skip);
    expect(res).toHaveStatus(200);
    expect(res.body.displayname, "displayname").toBe(profile.displayname);
    expect(res.body.avatar_url, "avatar_url").toBe(profile.avatar_url);
  });

  test("field=displayname returns only the display name", spec(PROFILE, "1.0"), async ({ peer, alice, skip }) => {
    // "If specified, the server MUST only return the given field in the response."
    const profile = await withProfile(alice);
    const res = await queryProfile(peer, alice.userId, skip, "displayname");
    expect(res).toHaveStatus(200);
    expect(res.body, "only the requested field").toEqual({ displayname: profile.displayname });
  });

  test("field=avatar_url returns only the avatar URL", spec(PROFILE, "1.0"), async ({ peer, alice, skip }) => {
    const profile = await withProfile(alice);
    const res = await queryProfile(peer, alice.userId, skip, "avatar_url");
    expect(res).toHaveStatus(200);
    expect(res.body, "only the requested field").toEqual({ avatar_url: profile.avatar_url });
  });

  test("a user of the target that does not exist is 404 M_NOT_FOUND", spec(PROFILE, "1.0"), async ({ peer, alice, federation, skip }) => {
    // Control first: the same query for an existing user is answered.
    expect(await queryProfile(peer, alice.userId, skip), "the control, an existing user").toHaveStatus(200);
    const res = await queryProfile(peer, `@${uniqueLocalpart("nobody")}:${federation.serverName}`, skip);
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

describe("GET /query/directory", () => {
  test("an alias on the target resolves to its room ID and a list of servers", spec(DIRECTORY, "1.0"), async ({ peer, alice, federation }) => {
    const roomId = await alice.createRoom({ preset: "public_chat" });
    const alias = `#${uniqueLocalpart("fed-alias")}:${federation.serverName}`;
    await alice.step("create an alias", "PUT", cs.v3`/directory/room/${alias}`, { body: { room_id: roomId } });
    const res = await peer.request("GET", fed.v1`/query/directory`, { query: { room_alias: alias } });
    expect(res).toHaveStatus(200);
    expect(res.body.room_id, "room_id").toBe(roomId);
    expect(Array.isArray(res.body.servers), "servers is an array").toBe(true);
  });

  test("an alias the target does not have is 404 M_NOT_FOUND", spec(DIRECTORY, "1.0"), async ({ peer, federation }) => {
    const res = await peer.request("GET", fed.v1`/query/directory`, { query: { room_alias: `#${uniqueLocalpart("no-such-alias")}:${federation.serverName}` } });
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

describe("published room directory", () => {
  /** A room alice publishes in the target's directory, with a name no other room has. */
  async function published(alice: UserClient): Promise<{ roomId: string; name: string }> {
    const name = `Published room ${uniqueLocalpart("room")}`;
    const roomId = await alice.createRoom({ preset: "public_chat", visibility: "public", name });
    return { roomId, name };
  }

  test("GET /publicRooms lists a room published on the target, with its name and member count", spec(PUBLIC_GET, "1.0"), async ({ peer, alice }) => {
    const { roomId, name } = await published(alice);
    let since: string | undefined;
    let entry: Record<string, unknown> | undefined;
    for (let page = 0; page < 50 && !entry; page++) {
      const res = await peer.request("GET", fed.v1`/publicRooms`, { query: { limit: 100, since } });
      expect(res).toHaveStatus(200);
      entry = (res.body.chunk as Array<Record<string, unknown>>).find((r) => r.room_id === roomId);
      since = res.body.next_batch;
      if (!since) break;
    }
    expect(entry, `the published room ${roomId} is listed`).toBeDefined();
    expect(entry!.name, "name").toBe(name);
    expect(entry!.num_joined_members, "num_joined_members").toBe(1);
  });

  test("POST /publicRooms with a search term finds the published room", spec(PUBLIC_POST, "1.0"), async ({ peer, alice }) => {
    const { roomId, name } = await published(alice);
    const res = await peer.request("POST", fed.v1`/publicRooms`, { body: { limit: 10, filter: { generic_search_term: name } } });
    expect(res).toHaveStatus(200);
    expect((res.body.chunk as Array<{ room_id: string }>).map((r) => r.room_id), "the room whose name matches").toContain(roomId);
  });

  test("POST /publicRooms leaves out rooms that do not match the search term", spec(PUBLIC_POST, "1.0"), async ({ peer, alice }) => {
    const { roomId } = await published(alice);
    const res = await peer.request("POST", fed.v1`/publicRooms`, { body: { limit: 10, filter: { generic_search_term: uniqueLocalpart("nothing-matches") } } });
    expect(res).toHaveStatus(200);
    expect((res.body.chunk as Array<{ room_id: string }>).map((r) => r.room_id), "a room that does not match").not.toContain(roomId);
  });
});

