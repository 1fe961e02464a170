// Binary bodies in the scripted client, against a tiny local HTTP server: bytes go out and come back
// unchanged, the exchange log keeps a digest (size, type, sha256) instead of the bytes, a JSON error
// on a media endpoint is still schema-checked, and multipart bodies are built and parsed.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { describeDigest, digestOf, encodeMultipart, parseMultipart, sha256Hex } from "../../harness/client/binary.ts";
import { MatrixClient, cs } from "../../harness/client/client.ts";
import { ExchangeLog, formatExchange } from "../../harness/client/exchange.ts";
import { makeValidator } from "../../harness/fixtures/validator.ts";
import "../../harness/fixtures/matchers.ts";
import { getSpec } from "../schemas/helpers.ts";

// A PNG signature, an ASCII marker a log holding the bytes as text would show, then every byte
// value twice (not valid UTF-8: no text decoding survives it).
const MARKER = "RAW-BYTES-MARKER";
const PNG_ISH = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(MARKER), Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256))]);
const BOUNDARY = "b0undary";

let server: Server;
let baseUrl: string;
/** What the server received on the last upload. */
let received: { contentType?: string; bytes: Buffer } | undefined;

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const body = await readAll(req);
    if (req.method === "POST" && url.pathname === "/_matrix/media/v3/upload") {
      received = { contentType: req.headers["content-type"], bytes: body };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ content_uri: `mxc://hs.test/${sha256Hex(body).slice(0, 12)}` }));
    } else if (url.pathname === "/_matrix/client/v1/media/download/hs.test/present") {
      res.writeHead(200, { "content-type": "image/png", "content-disposition": 'inline; filename="a.png"' }).end(PNG_ISH);
    } else if (url.pathname === "/_matrix/client/v1/media/download/hs.test/absent") {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ errcode: "M_NOT_FOUND", error: "no such media" }));
    } else if (url.pathname === "/_matrix/client/v1/media/download/hs.test/broken-error") {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "no errcode here" }));
    } else if (url.pathname === "/_matrix/federation/v1/media/download/present") {
      const parts = [
        `--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{}\r\n`,
        `--${BOUNDARY}\r\nContent-Type: image/png\r\n\r\n`,
      ];
      res.writeHead(200, { "content-type": `multipart/mixed; boundary=${BOUNDARY}` });
      res.end(Buffer.concat([Buffer.from(parts[0]!), Buffer.from(parts[1]!), PNG_ISH, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]));
    } else if (url.pathname === "/echo-form") {
      // Parsed by undici's own multipart/form-data reader, independent of the harness's.
      const form = await new Response(body, { headers: { "content-type": req.headers["content-type"] ?? "" } }).formData();
      const file = form.get("file") as File;
      const answer = { note: form.get("note"), fileName: file.name, fileType: file.type, fileSha256: sha256Hex(Buffer.from(await file.arrayBuffer())) };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ errcode: "M_UNRECOGNIZED", error: "unknown" }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function client(): Promise<{ c: MatrixClient; log: ExchangeLog }> {
  const log = new ExchangeLog();
  return { c: new MatrixClient({ baseUrl, log, validator: makeValidator(await getSpec()), accessToken: "syt_test_token" }), log };
}

/** Whether recorded exchanges hold the bytes themselves: as text (the marker), base64 or hex. */
function holdsBytes(value: unknown, bytes: Buffer): boolean {
  const text = JSON.stringify(value);
  return text.includes(MARKER) || text.includes(bytes.toString("base64").slice(0, 40)) || text.includes(bytes.toString("hex").slice(0, 40));
}

describe("binary request bodies", () => {
  test("an upload sends the bytes unchanged with their content type, and the log keeps size, type and sha256", async () => {
    const { c, log } = await client();
    const res = await c.request("POST", cs.media`/upload`, { bytes: PNG_ISH, contentType: "image/png", query: { filename: "a.png" } });
    expect(res, "the upload was answered").toHaveStatus(200);
    expect(received?.contentType, "the server saw the content type").toBe("image/png");
    expect(received?.bytes.equals(PNG_ISH), "the server saw the very bytes").toBe(true);
    const e = log.exchanges[0]!;
    expect(e.requestBinary, "the log's digest of the upload").toEqual({ size: PNG_ISH.length, contentType: "image/png", sha256: sha256Hex(PNG_ISH) });
    expect(e.requestBody, "no text body is recorded for bytes").toBeUndefined();
    expect(holdsBytes(log.exchanges, PNG_ISH), "the log holds no raw bytes").toBe(false);
    expect(e.schema?.checked, "the JSON answer was schema-checked").toBe(true);
    expect(e.schema?.errors, "a conforming upload answer has no violations").toEqual([]);
  });

  test("a multipart/form-data body carries each field and file, and the log lists the parts' digests", async () => {
    const { c, log } = await client();
    const res = await c.request("POST", cs.raw`/echo-form`, { multipart: [{ name: "note", data: "hello" }, { name: "file", filename: "a.png", contentType: "image/png", data: PNG_ISH }] });
    expect(res, "the form was parsed by the server").toHaveStatus(200);
    expect(res.body, "what undici's form reader found").toEqual({ note: "hello", fileName: "a.png", fileType: "image/png", fileSha256: sha256Hex(PNG_ISH) });
    const d = log.exchanges[0]!.requestBinary!;
    expect(d.contentType, "the boundary is named").toMatch(/^multipart\/form-data; boundary=/);
    expect(d.parts, "each part's digest").toEqual([
      { name: "note", size: 5, sha256: sha256Hex("hello") },
      { name: "file", filename: "a.png", contentType: "image/png", size: PNG_ISH.length, sha256: sha256Hex(PNG_ISH) },
    ]);
    expect(holdsBytes(log.exchanges, PNG_ISH), "the log holds no raw bytes").toBe(false);
  });
});

describe("binary response bodies", () => {
  test("a download's bytes arrive unchanged, undecoded, and the log keeps their digest", async () => {
    const { c, log } = await client();
    const res = await c.get(cs.v1`/media/download/${"hs.test"}/${"present"}`);
    expect(res, "the download").toHaveStatus(200);
    expect(sha256Hex(res.bytes), "the hash of the bytes received").toBe(sha256Hex(PNG_ISH));
    expect(res.text, "a binary body is not decoded as text").toBe("");
    expect(res.json, "nor as JSON").toBe(false);
    const e = log.exchanges[0]!;
    expect(e.responseBinary, "the log's digest").toEqual({ size: PNG_ISH.length, contentType: "image/png", sha256: sha256Hex(PNG_ISH) });
    expect(e.responseBody, "no text body is recorded for bytes").toBeUndefined();
    expect(holdsBytes(log.exchanges, PNG_ISH), "the log holds no raw bytes").toBe(false);
    expect(e.schema, "a documented non-JSON body passes the check without violations").toMatchObject({ checked: true, errors: [] });
    expect(formatExchange(e), "the rendering names size, type and hash").toContain(`binary body, ${PNG_ISH.length} bytes, image/png, sha256 ${sha256Hex(PNG_ISH).slice(0, 16)}…`);
  });

  test("a JSON error from a media endpoint is parsed and schema-checked like any other", async () => {
    const { c, log } = await client();
    const ok = await c.get(cs.v1`/media/download/${"hs.test"}/${"absent"}`);
    expect(ok, "a conforming error").toBeMatrixError(404, "M_NOT_FOUND");
    expect(log.exchanges[0]!.schema, "the standard error schema was applied").toMatchObject({ checked: true, errors: [] });
    const bad = await c.get(cs.v1`/media/download/${"hs.test"}/${"broken-error"}`);
    expect(bad.status, "the broken error's status").toBe(404);
    const errors = log.exchanges[1]!.schema?.errors ?? [];
    expect(errors.map((v) => v.keyword), "an error without errcode breaks the schema").toContain("required");
    expect(log.exchanges[1]!.responseBody, "a JSON body is recorded as text").toContain("no errcode here");
  });

  test("a multipart/mixed answer (federation media) is split into parts, JSON parsed and bytes kept", async () => {
    const { c, log } = await client();
    const res = await c.get(cs.raw`/_matrix/federation/v1/media/download/${"present"}`);
    expect(res, "the download").toHaveStatus(200);
    expect(res.parts?.length, "two parts").toBe(2);
    expect(res.parts?.[0]?.json, "the metadata part").toEqual({});
    expect(res.parts?.[1]?.contentType, "the media part's type").toBe("image/png");
    expect(res.parts?.[1]?.bytes.equals(PNG_ISH), "the media part's bytes").toBe(true);
    const d = log.exchanges[0]!.responseBinary!;
    expect(d.parts?.map((p) => [p.contentType, p.size, p.sha256]), "the parts' digests").toEqual([
      ["application/json", 2, sha256Hex("{}")],
      ["image/png", PNG_ISH.length, sha256Hex(PNG_ISH)],
    ]);
    expect(describeDigest(d), "the rendering lists the parts").toContain(`[part 1: 2 bytes, application/json, sha256 ${sha256Hex("{}").slice(0, 16)}…; part 2: ${PNG_ISH.length} bytes, image/png`);
  });
});

describe("multipart framing", () => {
  test("what encodeMultipart builds, parseMultipart reads back", () => {
    const { body, contentType } = encodeMultipart([{ data: "{}", contentType: "application/json" }, { data: PNG_ISH }], "mixed");
    const parts = parseMultipart(body, contentType)!;
    expect(parts.map((p) => p.bytes.length), "part sizes").toEqual([2, PNG_ISH.length]);
    expect(parts[1]!.bytes.equals(PNG_ISH), "bytes survive").toBe(true);
    expect(parts[1]!.text, "a part with invalid UTF-8 and no type is not decoded").toBeUndefined();
  });

  test("a body without its closing delimiter or a content type without a boundary does not parse", () => {
    expect(parseMultipart(Buffer.from(`--x\r\n\r\nabc`), "multipart/mixed; boundary=x"), "no closing delimiter").toBeUndefined();
    expect(parseMultipart(Buffer.from(`--x\r\n\r\nabc\r\n--x--`), "multipart/mixed"), "no boundary").toBeUndefined();
    expect(digestOf(Buffer.from("abc"), "multipart/mixed").parts, "a digest without parts").toBeUndefined();
  });
});

describe("the report's exchange format", () => {
  test("an exchange with binary bodies, as the log records it, is valid in report.json", async () => {
    const schema = JSON.parse(readFileSync(new URL("../../schemas/report.schema.json", import.meta.url), "utf8"));
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    addFormats.default(ajv);
    ajv.addSchema(schema);
    const validate = ajv.compile({ $ref: `${schema.$id}#/$defs/exchange` });
    const { c, log } = await client();
    await c.request("POST", cs.raw`/echo-form`, { multipart: [{ name: "file", filename: "a.png", contentType: "image/png", data: PNG_ISH }] });
    await c.get(cs.raw`/_matrix/federation/v1/media/download/${"present"}`);
    for (const e of log.exchanges) expect(validate(JSON.parse(JSON.stringify(e))), `exchange #${e.seq}: ${JSON.stringify(validate.errors)}`).toBe(true);
  });
});
