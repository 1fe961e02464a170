// harness/crypto: the Matrix signing and hashing primitives, per room version.
//
// Canonical JSON, unpadded Base64, ed25519 keys, signed JSON, event content and reference
// hashes, event and room IDs, the redaction algorithms and PDU formats of room versions 1-12,
// and the one room-version table (room-versions.ts) that stateres, federation and the suites read.
// Pure: no I/O, no clock, no randomness except what the caller passes in. Tested against the
// spec's vectors (https://spec.matrix.org/v1.19/appendices/#cryptographic-test-vectors).

export { CryptoError, CanonicalJsonError, Base64Error, formatJsonPath, type JsonPathSegment } from "./errors.ts";
export { cloneJson, isPlainObject, type JsonObject, type JsonValue } from "./json.ts";
export {
  canonicalJson,
  canonicalJsonBytes,
  compareCodePoints,
  pythonFloatRepr,
  MAX_CANONICAL_INT,
  MIN_CANONICAL_INT,
  type CanonicalJsonOptions,
} from "./canonical.ts";
export {
  encodeBase64,
  encodeBase64Url,
  decodeBase64,
  decodeBase64Url,
  type Base64DecodeOptions,
} from "./base64.ts";
export {
  ED25519,
  sha256,
  signingKeyFromSeed,
  generateSigningKey,
  signBytes,
  verifyBytes,
  parseKeyId,
  formatKeyId,
  isValidKeyVersion,
  type SigningKey,
  type KeyId,
} from "./ed25519.ts";
export {
  signedBytes,
  jsonSignature,
  withSignature,
  signJson,
  verifyJsonSignature,
  checkJsonSignature,
  SUPPORTED_SIGNING_ALGORITHMS,
  type Signatures,
  type VerifyKeys,
  type SignatureCheck,
} from "./signing.ts";
export {
  ROOM_VERSIONS,
  ROOM_VERSION_IDS,
  DEFAULT_ROOM_VERSION,
  REDACTION_V1,
  REDACTION_V6,
  REDACTION_V8,
  REDACTION_V9,
  REDACTION_V11,
  roomVersion,
  isKnownRoomVersion,
  onePerRuleClass,
  type AuthorizationRules,
  type EventFormatRules,
  type SignatureRules,
  type StateResAlgorithm,
  type RoomVersionId,
  type RoomVersionLike,
  type RoomVersionRules,
  type RedactionRules,
  type ContentKeepTree,
  type EventIdFormat,
  type PduShape,
  type RoomIdFormat,
} from "./room-versions.ts";
export { redactEvent, redactWithRules } from "./redaction.ts";
export { serverNameOf, makeServerEventId } from "./identifiers.ts";
export {
  canonicalOptionsFor,
  contentHash,
  contentHashBase64,
  withContentHash,
  checkContentHash,
  referenceHash,
  computeEventId,
  eventReference,
  roomIdFromCreateEvent,
  createEventIdFromRoomId,
  signEvent,
  hashAndSignEvent,
  requiredSigningServers,
  verifyEventSignature,
  verifyEvent,
  type EventHashes,
  type ServerKeys,
  type EventCheck,
} from "./events.ts";
export {
  buildPdu,
  buildSignedPdu,
  type Pdu,
  type PduV1,
  type PduV3,
  type PduV11,
  type PduV12,
  type PduCommon,
  type PduByRoomVersion,
  type PduDraft,
  type EventRef,
  type EventReferencePair,
} from "./pdu.ts";
