// User profiles: display names and avatar URLs, who may read and who may change them.
// Spec: client-server-api/#profiles, #put_matrixclientv3profileuseridkeyname,
// #get_matrixclientv3profileuseridkeyname, #get_matrixclientv3profileuserid.
import { cs, describe, expect, spec, test, uniqueLocalpart, type UserClient } from "../../harness/fixtures/index.ts";

type Field = "displayname" | "avatar_url";

/**
 * Fails with a readable message when the server's capabilities say the user may not change the
 * field (m.profile_fields since v1.16, or the older m.set_displayname / m.set_avatar_url): the
 * round trips below need a target that lets users edit their own profile.
 */
async function requireChangeable(user: UserClient, field: Field): Promise<void> {
  const body = await user.step<{ capabilities: Record<string, { enabled?: boolean; allowed?: string[]; disallowed?: string[] }> }>(
    "read the capabilities",
    "GET",
    cs.v3`/capabilities`,
  );
  const fields = body.capabilities["m.profile_fields"];
  const legacy = body.capabilities[field === "displayname" ? "m.set_displayname" : "m.set_avatar_url"];
  const byFields = fields !== undefined && (fields.enabled === false || (fields.allowed ? !fields.allowed.includes(field) : (fields.disallowed ?? []).includes(field)));
  if (byFields || legacy?.enabled === false) {
    throw new Error(`precondition failed: the target's capabilities do not let users change their ${field}; these tests need a target that does`);
  }
}

async function setField(user: UserClient, field: Field, value: string): Promise<void> {
  await requireChangeable(user, field);
  await user.step(`set ${field}`, "PUT", cs.v3`/profile/${user.userId}/${field}`, { body: { [field]: value } });
}

// Where the profile endpoints name no errcode for a status, the code defined for the situation is
// expected, or M_UNKNOWN, which the standard error response section lets a server pair with a
// status that says what went wrong.
const OTHERS_PROFILE = "changing another user's profile is refused with the endpoint's 403, M_FORBIDDEN or M_UNKNOWN";
// A user that does not exist: the server may answer 404 (M_NOT_FOUND, or M_UNKNOWN) or, since
// v1.2, refuse the look-up with 403 M_FORBIDDEN (#profiles, server behaviour). The errcode goes
// with the status, so each status is checked with its own codes.
const UNKNOWN_USER = "a user that does not exist is answered 404 M_NOT_FOUND (or M_UNKNOWN), or the look-up refused with 403 M_FORBIDDEN";

function mxcUri(): string {
  return `mxc://example.org/${uniqueLocalpart("avatar")}`;
}

describe("Setting and reading one's own profile", () => {
  test("returns the displayname the user set from GET /profile/{userId}/displayname", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.0"), async ({ alice }) => {
    await requireChangeable(alice, "displayname");
    const name = `Ælice ✨ ${uniqueLocalpart("name")}`;
    const put = await alice.put(cs.v3`/profile/${alice.userId}/displayname`, { displayname: name });
    expect(put).toHaveStatus(200);
    const res = await alice.get(cs.v3`/profile/${alice.userId}/displayname`);
    expect(res).toHaveStatus(200);
    expect(res.body.displayname, "the displayname read back is the one set").toBe(name);
  });

  test("returns the avatar_url (an MXC URI) the user set from GET /profile/{userId}/avatar_url", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.0"), async ({ alice }) => {
    await requireChangeable(alice, "avatar_url");
    const url = mxcUri();
    const put = await alice.put(cs.v3`/profile/${alice.userId}/avatar_url`, { avatar_url: url });
    expect(put).toHaveStatus(200);
    const res = await alice.get(cs.v3`/profile/${alice.userId}/avatar_url`);
    expect(res).toHaveStatus(200);
    expect(res.body.avatar_url, "the avatar_url read back is the one set").toBe(url);
  });

  test("returns the latest value after a field is set twice", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.0"), async ({ alice }) => {
    await setField(alice, "displayname", `first ${uniqueLocalpart("n")}`);
    const second = `second ${uniqueLocalpart("n")}`;
    await setField(alice, "displayname", second);
    const res = await alice.get(cs.v3`/profile/${alice.userId}/displayname`);
    expect(res).toHaveStatus(200);
    expect(res.body.displayname, "the displayname after it was set twice is the second").toBe(second);
  });

  test("returns both fields from the complete profile, GET /profile/{userId}", spec("client-server-api/#get_matrixclientv3profileuserid", "1.0"), async ({ alice }) => {
    const name = `Alice ${uniqueLocalpart("full")}`;
    const url = mxcUri();
    await setField(alice, "displayname", name);
    await setField(alice, "avatar_url", url);
    const res = await alice.get(cs.v3`/profile/${alice.userId}`);
    expect(res).toHaveStatus(200);
    expect(res.body.displayname, "the complete profile's displayname is the one set").toBe(name);
    expect(res.body.avatar_url, "the complete profile's avatar_url is the one set").toBe(url);
  });
});

describe("Other users and profiles", () => {
  test("lets a user who shares a room read the profile", spec("client-server-api/#profiles", "1.2"), async ({ alice, bob }) => {
    // "Homeservers MUST at a minimum allow profile look-up for users who are visible to the
    // requester based on their membership in rooms", e.g. users that share a room (v1.2, MSC3550).
    const roomId = await alice.createRoom({ preset: "public_chat" });
    await bob.joinRoom(roomId);
    const name = `Alice ${uniqueLocalpart("shared")}`;
    const url = mxcUri();
    await setField(alice, "displayname", name);
    await setField(alice, "avatar_url", url);
    const full = await bob.get(cs.v3`/profile/${alice.userId}`);
    expect(full).toHaveStatus(200);
    expect(full.body.displayname, "the displayname a room member reads in the complete profile").toBe(name);
    expect(full.body.avatar_url, "the avatar_url a room member reads in the complete profile").toBe(url);
    const one = await bob.get(cs.v3`/profile/${alice.userId}/displayname`);
    expect(one).toHaveStatus(200);
    expect(one.body.displayname, "the displayname a room member reads from GET /profile/{userId}/displayname").toBe(name);
  });

  test("refuses to set another user's displayname with 403 and leaves it unchanged", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.16"), async ({ alice, bob }) => {
    // The PUT needs a token authorised to change this user's profile; a refusal for insufficient
    // permissions is the endpoint's 403 response, not its 400 (which is for invalid input). See the
    // responses of #put_matrixclientv3profileuseridkeyname, documented since v1.16 (MSC4133; up to
    // v1.15 the PUT listed only 200 and 429). Synapse 1.163 answers 400 M_FORBIDDEN.
    const attempt = `set by alice ${uniqueLocalpart("x")}`;
    const res = await alice.put(cs.v3`/profile/${bob.userId}/displayname`, { displayname: attempt });
    expect(res).toBeMatrixError(403, ["M_FORBIDDEN", "M_UNKNOWN"], OTHERS_PROFILE);
    const after = await bob.get(cs.v3`/profile/${bob.userId}/displayname`);
    // Bob may have no displayname at all (404), or his own; never the one alice tried to set.
    if (after.status !== 404) {
      expect(after).toHaveStatus(200);
      expect(after.body.displayname, "bob's displayname after alice's refused change").not.toBe(attempt);
    }
  });

  test("refuses to set another user's avatar_url with 403 and leaves it unchanged", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.16"), async ({ alice, bob }) => {
    const attempt = mxcUri();
    const res = await alice.put(cs.v3`/profile/${bob.userId}/avatar_url`, { avatar_url: attempt });
    expect(res).toBeMatrixError(403, ["M_FORBIDDEN", "M_UNKNOWN"], OTHERS_PROFILE);
    const after = await bob.get(cs.v3`/profile/${bob.userId}/avatar_url`);
    if (after.status !== 404) {
      expect(after).toHaveStatus(200);
      expect(after.body.avatar_url, "bob's avatar_url after alice's refused change").not.toBe(attempt);
    }
  });

  test("answers the profile of a user that does not exist with 404, or 403 M_FORBIDDEN", spec("client-server-api/#get_matrixclientv3profileuserid", "1.0"), async ({ alice, deployment }) => {
    // 404 since v1.0; since v1.2 a server may instead refuse with 403 (see #profiles).
    const res = await alice.get(cs.v3`/profile/${`@${uniqueLocalpart("ghost")}:${deployment.serverName}`}`);
    if (res.status === 403) expect(res).toBeMatrixError(403, "M_FORBIDDEN", UNKNOWN_USER);
    else expect(res).toBeMatrixError(404, ["M_NOT_FOUND", "M_UNKNOWN"], UNKNOWN_USER);
  });

  test("answers a profile field of a user that does not exist with 404, or 403 M_FORBIDDEN", spec("client-server-api/#get_matrixclientv3profileuseridkeyname", "1.0"), async ({ alice, deployment }) => {
    const res = await alice.get(cs.v3`/profile/${`@${uniqueLocalpart("ghost")}:${deployment.serverName}`}/displayname`);
    if (res.status === 403) expect(res).toBeMatrixError(403, "M_FORBIDDEN", UNKNOWN_USER);
    else expect(res).toBeMatrixError(404, ["M_NOT_FOUND", "M_UNKNOWN"], UNKNOWN_USER);
  });
});
