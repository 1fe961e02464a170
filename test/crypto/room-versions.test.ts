// The one room-version table (harness/crypto/room-versions.ts): its rows are frozen, each names
// the spec release that added it, and the authorisation and state-resolution flags group the
// versions as the spec's room version pages do.
import { describe, expect, it } from "vitest";
import { ROOM_VERSIONS, ROOM_VERSION_IDS, isKnownRoomVersion, onePerRuleClass, roomVersion, type RoomVersionRules } from "../../harness/crypto/index.ts";

const having = (flag: (r: RoomVersionRules) => boolean) => ROOM_VERSION_IDS.filter((v) => flag(ROOM_VERSIONS[v]));

describe("the room-version table", () => {
  it("is frozen, nested objects included", () => {
    const v12 = roomVersion("12");
    expect(Object.isFrozen(ROOM_VERSIONS), "the table").toBe(true);
    expect([v12, v12.format, v12.auth, v12.signatures, v12.redaction].every(Object.isFrozen), "a row and its parts").toBe(true);
  });

  it("names the spec release that added each version", () => {
    expect(Object.fromEntries(ROOM_VERSION_IDS.map((v) => [v, ROOM_VERSIONS[v].since]))).toEqual({
      "1": "1.0", "2": "1.0", "3": "1.0", "4": "1.0", "5": "1.0", "6": "1.0",
      "7": "1.1", "8": "1.2", "9": "1.2", "10": "1.3", "11": "1.8", "12": "1.16",
    });
  });

  it("groups the authorisation-rule and state-resolution flags as the room version pages do", () => {
    expect(having((r) => r.auth.knock), "knocking").toEqual(["7", "8", "9", "10", "11", "12"]);
    expect(having((r) => r.auth.restricted), "restricted joins").toEqual(["8", "9", "10", "11", "12"]);
    expect(having((r) => r.auth.knockRestricted), "knock_restricted").toEqual(["10", "11", "12"]);
    expect(having((r) => r.auth.createRequiresCreator), "content.creator required").toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    expect(having((r) => r.auth.infiniteCreatorPower), "creators' infinite power").toEqual(["12"]);
    expect(having((r) => !r.auth.createInAuthEvents), "no create event in auth_events").toEqual(["12"]);
    expect(having((r) => r.auth.redactionRule), "the redaction auth rule").toEqual(["1", "2"]);
    expect(having((r) => r.auth.aliasesRule), "the aliases auth rule").toEqual(["1", "2", "3", "4", "5"]);
    expect(Object.fromEntries(ROOM_VERSION_IDS.map((v) => [v, ROOM_VERSIONS[v].stateRes])), "state resolution").toEqual({
      "1": "v1", "2": "v2", "3": "v2", "4": "v2", "5": "v2", "6": "v2", "7": "v2", "8": "v2", "9": "v2", "10": "v2", "11": "v2", "12": "v2.1",
    });
  });

  it("resolves known IDs and throws for unknown ones", () => {
    expect(isKnownRoomVersion("10"), "10").toBe(true);
    expect(isKnownRoomVersion("org.example.v13"), "a made-up ID").toBe(false);
    expect(() => roomVersion("org.example.v13")).toThrow(/unknown room version/);
  });

  it("picks one version, the oldest, per class of what a rule reads", () => {
    expect(onePerRuleClass((r) => r.stateRes)).toEqual(["1", "2", "12"]);
    expect(onePerRuleClass((r) => r.format.pduShape, ["4", "10", "11", "12"])).toEqual(["4", "11", "12"]);
    expect(onePerRuleClass((r) => r.format.maxDepth), "bigint values").toEqual(["1", "6"]);
  });
});
