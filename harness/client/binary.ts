// Bodies that are bytes rather than JSON: media uploads and downloads, thumbnails, multipart bodies
// (multipart/form-data sent, multipart/mixed received, as federation media answers are). The
// exchange log records such a body as a digest (size, content type, sha256, and the same for each
// part of a multipart body), never the bytes: a report stays small and readable, and a test can
// still show which bytes it sent and which came back.

import { createHash, randomBytes } from "node:crypto";

/** How the log records a body it does not keep: enough to tell two bodies apart. */
export interface BodyDigest {
  size: number;
  contentType?: string;
  /** Lower-case hex SHA-256 of the bytes. */
  sha256: string;
  /** The parts of a multipart body, each as a digest of its own body. */
  parts?: PartDigest[];
}

export interface PartDigest extends BodyDigest {
  /** The part's Content-Disposition name and filename, when it has them. */
  name?: string;
  filename?: string;
}

/** One part of a multipart body the harness sends. */
export interface MultipartPart {
  /** The form field name (multipart/form-data); omitted for multipart/mixed. */
  name?: string;
  filename?: string;
  contentType?: string;
  headers?: Record<string, string>;
  data: string | Uint8Array;
}

/** One part of a multipart body the target sent. */
export interface ReceivedPart {
  /** Header names in lower case. */
  headers: Record<string, string>;
  contentType?: string;
  bytes: Buffer;
  /** The body decoded as UTF-8, for a textual part. */
  text?: string;
  /** The parsed body of a JSON part that parsed. */
  json?: unknown;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The media type without parameters, lower case: "image/png" for "image/PNG; x=y". */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const t = contentType?.split(";")[0]?.trim().toLowerCase();
  return t || undefined;
}

/** Whether a content type names text the log can show: JSON, text/*, XML, form-urlencoded. */
export function isTextualType(contentType: string | undefined): boolean {
  const t = mediaTypeOf(contentType);
  if (!t) return false;
  return (
    t.startsWith("text/") ||
    t === "application/json" ||
    t.endsWith("+json") ||
    t === "application/xml" ||
    t.endsWith("+xml") ||
    t === "application/x-www-form-urlencoded" ||
    t === "application/javascript"
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Whether a body is recorded as a digest instead of text: a multipart body, a body of a
 * non-textual content type, or one without a content type that is not valid UTF-8.
 */
export function isBinaryBody(bytes: Uint8Array, contentType: string | undefined): boolean {
  if (bytes.length === 0) return false;
  const t = mediaTypeOf(contentType);
  if (t?.startsWith("multipart/")) return true;
  if (t) return !isTextualType(t);
  try {
    utf8.decode(bytes);
    return false;
  } catch {
    return true;
  }
}

/** The digest of a body; a multipart body also lists its parts (when it parses). */
export function digestOf(bytes: Uint8Array, contentType: string | undefined): BodyDigest {
  const digest: BodyDigest = { size: bytes.length, ...(contentType ? { contentType } : {}), sha256: sha256Hex(bytes) };
  const parts = mediaTypeOf(contentType)?.startsWith("multipart/") ? parseMultipart(bytes, contentType) : undefined;
  if (parts) {
    digest.parts = parts.map((p) => {
      const disposition = p.headers["content-disposition"] ?? "";
      const name = /(?:^|;)\s*name="([^"]*)"/i.exec(disposition)?.[1];
      const filename = /(?:^|;)\s*filename="([^"]*)"/i.exec(disposition)?.[1];
      return { size: p.bytes.length, ...(p.contentType ? { contentType: p.contentType } : {}), sha256: sha256Hex(p.bytes), ...(name !== undefined ? { name } : {}), ...(filename !== undefined ? { filename } : {}) };
    });
  }
  return digest;
}

/** One line for a failure message: `42 bytes, image/png, sha256 0123abcd…` (and the parts). */
export function describeDigest(d: BodyDigest): string {
  const head = `${d.size} bytes${d.contentType ? `, ${d.contentType}` : ""}, sha256 ${d.sha256.slice(0, 16)}…`;
  if (!d.parts) return head;
  const parts = d.parts.map((p, i) => `part ${i + 1}${p.name ? ` "${p.name}"` : ""}: ${describeDigest(p)}`);
  return `${head} [${parts.join("; ")}]`;
}

/**
 * Builds a multipart body (RFC 2046; form-data per RFC 7578) with a fresh boundary. Returns the
 * bytes and the Content-Type header that names the boundary.
 */
export function encodeMultipart(parts: readonly MultipartPart[], subtype: "form-data" | "mixed" = "form-data"): { body: Buffer; contentType: string } {
  const boundary = `mc-${randomBytes(12).toString("hex")}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const headers: string[] = [];
    if (subtype === "form-data" || part.name !== undefined) {
      const filename = part.filename !== undefined ? `; filename="${quoted(part.filename)}"` : "";
      headers.push(`Content-Disposition: form-data; name="${quoted(part.name ?? "")}"${filename}`);
    }
    if (part.contentType) headers.push(`Content-Type: ${part.contentType}`);
    for (const [k, v] of Object.entries(part.headers ?? {})) headers.push(`${k}: ${v}`);
    // The delimiter line, each header on its line, then the blank line that ends the headers.
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`, "utf8"));
    chunks.push(typeof part.data === "string" ? Buffer.from(part.data, "utf8") : Buffer.from(part.data));
    chunks.push(Buffer.from("\r\n", "utf8"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, "utf8"));
  return { body: Buffer.concat(chunks), contentType: `multipart/${subtype}; boundary=${boundary}` };
}

function quoted(s: string): string {
  return s.replace(/["\\\r\n]/g, (c) => (c === '"' ? "%22" : c === "\\" ? "\\\\" : ""));
}

/**
 * The parts of a multipart body, or undefined when the content type names no boundary or the
 * body does not follow RFC 2046's framing (delimiter lines, CRLF between headers and body).
 */
export function parseMultipart(bytes: Uint8Array, contentType: string | undefined): ReceivedPart[] | undefined {
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) return undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const delimiter = Buffer.from(`--${b}`, "utf8");
  // The first delimiter may open the body; every later one follows a CRLF that belongs to it.
  let at = buf.subarray(0, delimiter.length).equals(delimiter) ? 0 : buf.indexOf(Buffer.from(`\r\n--${b}`, "utf8"));
  if (at < 0) return undefined;
  at += at === 0 ? delimiter.length : delimiter.length + 2;
  const next = Buffer.from(`\r\n--${b}`, "utf8");
  const parts: ReceivedPart[] = [];
  for (;;) {
    if (buf.subarray(at, at + 2).toString("latin1") === "--") return parts; // close delimiter
    const lineEnd = buf.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const start = lineEnd + 2; // transport padding after the delimiter is ignored
    const end = buf.indexOf(next, start);
    if (end < 0) return undefined;
    const part = buf.subarray(start, end);
    // A part without headers starts with the blank line; otherwise the first blank line ends them.
    const bare = part.subarray(0, 2).toString("latin1") === "\r\n";
    const split = bare ? 0 : part.indexOf("\r\n\r\n");
    if (split < 0) return undefined;
    const headerText = bare ? "" : part.subarray(0, split).toString("utf8");
    const body = bare ? part.subarray(2) : part.subarray(split + 4);
    const headers: Record<string, string> = {};
    for (const line of headerText.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push(receivedPart(headers, Buffer.from(body)));
    at = end + next.length;
  }
}

function receivedPart(headers: Record<string, string>, bytes: Buffer): ReceivedPart {
  const contentType = headers["content-type"];
  const part: ReceivedPart = { headers, ...(contentType ? { contentType } : {}), bytes };
  if (!isBinaryBody(bytes, contentType)) part.text = bytes.toString("utf8");
  if (part.text !== undefined && /json/i.test(mediaTypeOf(contentType) ?? "")) {
    try {
      part.json = JSON.parse(part.text);
    } catch {
      // left unparsed: the test or the schema layer says what is wrong with it
    }
  }
  return part;
}
