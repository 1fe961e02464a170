// The reading helpers the suites share: ephemeral events of a joined room in /sync, a user ID's localpart.
import { describe, expect, test } from "vitest";
import { ephemeral, localpartOf, type SyncResponse } from "../../harness/client/index.ts";

describe("shared reading helpers", () => {
  test("ephemeral() keeps the events of one type in one joined room, and none for an absent room", () => {
    const res: SyncResponse = {
      next_batch: "s1",
      rooms: {
        join: {
          "!a:hs": { ephemeral: { events: [{ type: "m.typing", content: { user_ids: ["@b:hs"] } }, { type: "m.receipt", content: {} }] } },
          "!b:hs": { ephemeral: { events: [{ type: "m.typing", content: { user_ids: [] } }] } },
        },
      },
    };
    expect(ephemeral(res, "!a:hs", "m.typing"), "typing in !a").toEqual([{ type: "m.typing", content: { user_ids: ["@b:hs"] } }]);
    expect(ephemeral(res, "!a:hs", "m.presence"), "a type the room has none of").toEqual([]);
    expect(ephemeral(res, "!c:hs", "m.typing"), "a room not in the response").toEqual([]);
    expect(ephemeral({ next_batch: "s2" }, "!a:hs", "m.typing"), "a response without rooms").toEqual([]);
  });

  test("localpartOf() reads up to the first colon, the server name keeping its port", () => {
    expect(localpartOf("@alice-1:example.org"), "a plain user ID").toBe("alice-1");
    expect(localpartOf("@bob:localhost:8448"), "a server name with a port").toBe("bob");
    expect(localpartOf("@nocolon"), "no server name").toBe("nocolon");
  });
});
