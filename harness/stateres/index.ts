// harness/stateres: a pure reference model of Matrix room authorisation and state resolution.
//
//   - the authorisation rules of room versions 1-12 (auth.ts), reading the versions' differences
//     from the one room-version table of harness/crypto (room-versions.ts: `auth`, `stateRes`);
//   - auth events selection (selection.ts);
//   - state resolution v1 (room v1, v1.ts), v2 (rooms v2-v11) and v2.1 (room v12) (v2.ts),
//     behind one entry point (resolve.ts);
//   - a DAG walk that computes the state before/after events and selects missing auth events
//     (walk.ts);
//   - the pure half of the differential tests against real servers (differential.ts: forks, the
//     model's answer, comparison, reading, scenario; harness/fixtures/stateres-differential.ts
//     plays them over federation);
//   - the `stateres` scenario command (scenario.ts; it validates JSON input with ajv, the only
//     part that is not pure).
//
// Pure: no I/O, no clock, no randomness. Events are plain objects; IDs are taken as given.
// Each algorithm file starts with the spec sections it follows, the readings it takes where the
// text leaves a choice, and its complexity.

export {
  StateResInputError,
  T as EventTypes,
  compareCodePoints,
  eventStateKey,
  splitStateKey,
  stateKey,
  type Pdu,
  type PduInput,
  type StateMap,
} from "./types.ts";
export {
  checkAuthEventsList,
  checkAuthRules,
  stateOf,
  type AuthDecision,
  type AuthOptions,
  type AuthState,
} from "./auth.ts";
export { authEventKeys, selectAuthEvents, type AuthKey } from "./selection.ts";
export { CREATOR_POWER, parseLevel, requiredLevel, roomCreators, userLevel } from "./power.ts";
export { isValidUserId } from "./ids.ts";
export { verifySignedObject } from "./signatures.ts";
export { EventStore } from "./store.ts";
export { resolveState } from "./resolve.ts";
export { resolveV1, type V1Trace } from "./v1.ts";
export {
  authDifference,
  conflictedStateSubgraph,
  isPowerEvent,
  iterativeAuthChecks,
  mainlineOf,
  mainlineOrder,
  partitionStates,
  resolveV2,
  reverseTopologicalPowerOrder,
  senderPowerFromAuthEvents,
  type ResolveOptions,
  type V2Trace,
} from "./v2.ts";
export { buildRoom, type Room, type WalkOptions } from "./walk.ts";
export { authorizeEvent } from "./receipt.ts";
export {
  VARIANTS,
  classify,
  compareStates,
  describeOp,
  differenceReport,
  forkSeed,
  modelAnswer,
  opEvent,
  passesReceipt,
  randomFork,
  scenarioFor,
  seededRandom,
  stateFromClientEvents,
  stateFromIds,
  type Classification,
  type ForkCase,
  type KeyDifference,
  type ModelAnswer,
  type NamedFork,
  type Op,
  type OpEvent,
  type StateObject,
  type TimedOp,
} from "./differential.ts";
