// harness/federation: fake homeserver peers for the federation suites.
//
// A peer listens on 127.0.0.1 over HTTPS as `localhost:<port>`, with its own ed25519 key and a
// certificate from the run's CA; serves its key document and version; signs its requests with
// X-Matrix and verifies the requests it receives; keeps a model of each room it is in and builds
// valid events for room versions 1-12 (harness/crypto for hashes, signatures and IDs,
// harness/stateres for auth events and auth rules); answers the endpoints a test switches on
// (`peer.handle.*`) and records everything else as unexpected. See README.md.
//
//   const peer = await FederationPeer.start({ ca, log, validator, target: { serverName } });
//   const { room } = await peer.joinRoomOnTarget(roomId, peer.userId("bob"));
//   await peer.sendMessage(roomId, peer.userId("bob"), "hello");
//   const got = await peer.waitForPdu((p) => p.event.type === "m.room.message", 10_000, "alice's message");
//   await peer.stop();

export {
  FederationPeer,
  FEDERATION_WAIT_MS,
  type OutboundOptions,
  type PeerOptions,
  type TransactionResult,
  type UnexpectedRequest,
} from "./peer.ts";
export { fed, type Handler, type HandlerResult, type InboundRequest } from "./router.ts";
export { checkMembershipTemplate, type JoinResult } from "./membership.ts";
export type { ReceivedEdu, ReceivedPdu } from "./waiters.ts";
export { BACKGROUND_EDU_TYPES, type PeerHandlers } from "./handlers.ts";
export { PeerRoom, createPeerRoom, splitStateKey, stateKey, type CreateRoomOptions, type EventInput, type Signer, type StoredEvent } from "./room.ts";
export {
  authRulesFor,
  describePdu,
  eventIdOf,
  isKnownVersionId,
  knownVersion,
  pduCryptoProblems,
  pduFormatProblems,
  refId,
  refIds,
  toModelPdu,
  type ModelPdu,
  type RoomVersionId,
  type WirePdu,
} from "./events.ts";
export { Keyring, KeyFetchError, checkServerKeys, newSigningKey, serverKeysDocument, type KnownServerKeys, type ServerKeysCheck } from "./keys.ts";
export {
  formatXMatrix,
  parseXMatrix,
  requestJson,
  requestSignature,
  signRequest,
  verifyRequest,
  xMatrixViolations,
  type ParsedXMatrix,
  type RequestVerdict,
  type SignableRequest,
  type XMatrixParams,
} from "./xmatrix.ts";
export { createRunCa, issueServerCert, type IssuedCert, type RunCa } from "./tls.ts";
