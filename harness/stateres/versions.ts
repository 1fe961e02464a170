// Room-version rules as data: one row of feature flags per room version 1-12.
//
// Every difference between the authorisation rules and state resolution of the twelve versions
// is a flag here; the rules in auth.ts and the resolvers read flags, never version numbers.
// Sources: https://spec.matrix.org/v1.19/rooms/ and each https://spec.matrix.org/v1.19/rooms/vN/
// page (authorisation rules, "Deprecated event content schemas", state resolution).

export type StateResAlgorithm = "v1" | "v2" | "v2.1";

export interface RoomVersionRules {
  readonly id: string;
  /** Which state resolution algorithm the version uses (v1: room v1; v2: v2-v11; v2.1: v12). */
  readonly stateRes: StateResAlgorithm;
  /** The m.room.aliases rule (sender's domain must equal the state key). v1-v5; removed in v6. */
  readonly aliasesRule: boolean;
  /** The m.room.redaction rule with the redact level and event-ID domains. v1-v2 only (v3+ drop it). */
  readonly redactionRule: boolean;
  /** Power levels may be strings holding an integer. v1-v9 (v10 demands integers). */
  readonly stringPowerLevels: boolean;
  /** Power levels may be floats, truncated towards zero. v1-v5 (v6 enforces canonical JSON). */
  readonly floatPowerLevels: boolean;
  /** The extra power-levels checks that every level is an integer. v10+. */
  readonly integerPowerLevels: boolean;
  /** `notifications` changes are checked like `events` changes. v6+. */
  readonly notificationsInPowerLevels: boolean;
  /** `knock` membership and join rule. v7+. */
  readonly knock: boolean;
  /** `restricted` join rule and `join_authorised_via_users_server`. v8+. */
  readonly restricted: boolean;
  /** `knock_restricted` join rule. v10+. */
  readonly knockRestricted: boolean;
  /** The create event must carry `content.creator`, which names the creator. v1-v10. */
  readonly createRequiresCreator: boolean;
  /** The creator is the create event's `sender` rather than `content.creator`. v11+. */
  readonly creatorIsSender: boolean;
  /** Room creators (sender + `additional_creators`) have infinite power. v12. */
  readonly infiniteCreatorPower: boolean;
  /** The create event is selected into `auth_events`. v1-v11 (v12: the room ID implies it). */
  readonly createInAuthEvents: boolean;
  /** The room ID is derived from the create event's ID (the create event has no room_id). v12. */
  readonly roomIdFromCreateEvent: boolean;
}

const base: Omit<RoomVersionRules, "id"> = {
  stateRes: "v2",
  aliasesRule: false,
  redactionRule: false,
  stringPowerLevels: true,
  floatPowerLevels: false,
  integerPowerLevels: false,
  notificationsInPowerLevels: true,
  knock: false,
  restricted: false,
  knockRestricted: false,
  createRequiresCreator: true,
  creatorIsSender: false,
  infiniteCreatorPower: false,
  createInAuthEvents: true,
  roomIdFromCreateEvent: false,
};

// Each row starts from the previous one and lists only what the version changes.
const v1: RoomVersionRules = {
  ...base,
  id: "1",
  stateRes: "v1",
  aliasesRule: true,
  redactionRule: true,
  floatPowerLevels: true,
  notificationsInPowerLevels: false,
};
const v2: RoomVersionRules = { ...v1, id: "2", stateRes: "v2" };
const v3: RoomVersionRules = { ...v2, id: "3", redactionRule: false };
const v4: RoomVersionRules = { ...v3, id: "4" };
const v5: RoomVersionRules = { ...v4, id: "5" };
const v6: RoomVersionRules = {
  ...v5,
  id: "6",
  aliasesRule: false,
  floatPowerLevels: false,
  notificationsInPowerLevels: true,
};
const v7: RoomVersionRules = { ...v6, id: "7", knock: true };
const v8: RoomVersionRules = { ...v7, id: "8", restricted: true };
const v9: RoomVersionRules = { ...v8, id: "9" };
const v10: RoomVersionRules = {
  ...v9,
  id: "10",
  stringPowerLevels: false,
  integerPowerLevels: true,
  knockRestricted: true,
};
const v11: RoomVersionRules = { ...v10, id: "11", createRequiresCreator: false, creatorIsSender: true };
const v12: RoomVersionRules = {
  ...v11,
  id: "12",
  stateRes: "v2.1",
  infiniteCreatorPower: true,
  createInAuthEvents: false,
  roomIdFromCreateEvent: true,
};

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersionRules> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((r) => [r.id, Object.freeze(r)]),
);

export const ROOM_VERSION_IDS: readonly string[] = [...ROOM_VERSIONS.keys()];

export function roomVersion(id: string): RoomVersionRules | undefined {
  return ROOM_VERSIONS.get(id);
}
