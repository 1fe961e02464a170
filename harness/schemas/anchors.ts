// The spec site's anchor of an operation, as its generator writes it: the lower-cased method
// followed by the path with everything but letters, digits, underscores and hyphens dropped.
//   operationAnchor("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}")
//     -> "put_matrixclientv3roomsroomidsendeventtypetxnid"

export function operationAnchor(method: string, pathTemplate: string): string {
  return `${method.toLowerCase()}${pathTemplate.toLowerCase().replace(/[^a-z0-9_-]/g, "")}`;
}

/** The anchor of a SchemaCheck operation string ("<api> <METHOD> <path template>"). */
export function anchorOfOperation(operation: string): string | undefined {
  const m = /^\S+ ([A-Z]+) (\S+)$/.exec(operation);
  return m ? operationAnchor(m[1]!, m[2]!) : undefined;
}

/** The fragment of a spec() section ("server-server-api/#put_matrixfederationv2inviteroomideventid" -> the part after '#'). */
export function sectionAnchor(section: string): string {
  const i = section.indexOf("#");
  return i < 0 ? "" : section.slice(i + 1);
}
