// Which room versions the federation suites run a behaviour in. A behaviour runs across room
// versions only where its rules differ by version; otherwise once.
//
// FORMAT_CLASSES: one version per class of PDU format the harness's rules tell apart
// (harness/crypto/room-versions.ts): {1,2} server-assigned event IDs and [id, {sha256}] refs
// (v2 changes only state resolution), {3} base64 reference-hash IDs, {4-10} URL-safe IDs (the
// auth-rule changes of 5-10 -- key validity, strict canonical JSON, knocking, restricted joins,
// integer power levels -- are not what these bodies exercise), {11} `redacts` in content and new
// redaction rules, {12} room IDs from the create event, no create event in auth_events.
//
// ONE_VERSION: for bodies whose expectation does not depend on the version (an outsider's 403,
// an event rejected by an auth rule every version shares, the size limit, ...). Room version 10
// is the version both reference servers offer; the spec's recommended default (12) is not yet
// offered by every server, and a test run there would only skip on them.
//
// Tests keep the "room version N" describe form so the reporter counts behaviours, not runs.
export const FORMAT_CLASSES = ["1", "3", "10", "11", "12"] as const;

export const ONE_VERSION = "10";
