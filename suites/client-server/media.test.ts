// The content repository seen by a client: the media configuration, uploads (POST and the
// create-then-PUT flow), authenticated downloads (bytes, Content-Type, Content-Disposition, the
// security headers) and thumbnails of an image the harness draws.
// Spec: client-server-api/#content-repository, #matrix-content-mxc-uris, #thumbnails,
// #serving-inline-content, #get_matrixclientv1mediaconfig, #post_matrixmediav3upload,
// #get_matrixclientv1mediadownloadservernamemediaid,
// #get_matrixclientv1mediadownloadservernamemediaidfilename,
// #get_matrixclientv1mediathumbnailservernamemediaid, #post_matrixmediav1create,
// #put_matrixmediav3uploadservernamemediaid.
import { deflateSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { cs, describe, expect, mediaTypeOf, sha256Hex, spec, test, uniqueLocalpart, type MatrixClient, type UserClient } from "../../harness/fixtures/index.ts";
import { serverNameOf } from "../../harness/crypto/index.ts";

const CONFIG = "client-server-api/#get_matrixclientv1mediaconfig";
const UPLOAD = "client-server-api/#post_matrixmediav3upload";
const DOWNLOAD = "client-server-api/#get_matrixclientv1mediadownloadservernamemediaid";
const DOWNLOAD_NAMED = "client-server-api/#get_matrixclientv1mediadownloadservernamemediaidfilename";
const THUMBNAIL = "client-server-api/#get_matrixclientv1mediathumbnailservernamemediaid";
const CREATE = "client-server-api/#post_matrixmediav1create";
const PUT_UPLOAD = "client-server-api/#put_matrixmediav3uploadservernamemediaid";

// "mxc://<server-name>/<media-id>"; the media ID "MUST consist of only alphanumeric (A-Za-z0-9),
// _ and - characters" (#matrix-content-mxc-uris).
const MXC = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/;

// ---- a PNG drawn in code (RFC 2083: signature, IHDR, IDAT of zlib-deflated scanlines, IEND) ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An 8-bit RGB PNG of the given size: a colour gradient, so a thumbnailer has something to scale. */
function drawPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3); // filter byte 0, then RGB triples
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = Math.floor((x * 255) / width);
      row[2 + x * 3] = Math.floor((y * 255) / height);
      row[3 + x * 3] = 128;
    }
    rows.push(row);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", deflateSync(Buffer.concat(rows))), pngChunk("IEND", Buffer.alloc(0))]);
}

/** The format and pixel size an image's bytes declare (PNG IHDR, JPEG SOFn, GIF, WebP), or why not. */
function imageSize(bytes: Buffer): { format: string; width: number; height: number } | string {
  if (bytes.length >= 24 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { format: "image/png", width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 10 && bytes.subarray(0, 6).toString("latin1").startsWith("GIF8")) {
    return { format: "image/gif", width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  }
  if (bytes.length >= 30 && bytes.subarray(0, 4).toString("latin1") === "RIFF" && bytes.subarray(8, 12).toString("latin1") === "WEBP") {
    const kind = bytes.subarray(12, 16).toString("latin1");
    if (kind === "VP8 ") return { format: "image/webp", width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff };
    if (kind === "VP8L") {
      const b = bytes.readUInt32LE(21);
      return { format: "image/webp", width: (b & 0x3fff) + 1, height: ((b >> 14) & 0x3fff) + 1 };
    }
    if (kind === "VP8X") return { format: "image/webp", width: bytes.readUIntLE(24, 3) + 1, height: bytes.readUIntLE(27, 3) + 1 };
    return `a WebP of unknown kind ${JSON.stringify(kind)}`;
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (bytes[i] !== 0xff) return `a JPEG whose segment at byte ${i} does not start with 0xFF`;
      const marker = bytes[i + 1]!;
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        i += 2;
        continue;
      }
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { format: "image/jpeg", height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
      }
      i += 2 + bytes.readUInt16BE(i + 2);
    }
    return "a JPEG without a frame header (SOFn)";
  }
  return `bytes that are not a PNG, JPEG, GIF or WebP image (first bytes ${bytes.subarray(0, 8).toString("hex")})`;
}

// ---- arrangement ----

interface Uploaded {
  serverName: string;
  mediaId: string;
  bytes: Buffer;
}

/** Uploads bytes (a step: a refused upload is set-up) and splits the content_uri it gets back. */
async function upload(user: UserClient, bytes: Buffer, contentType: string, filename?: string): Promise<Uploaded> {
  const body = await user.step<{ content_uri: string }>("upload media", "POST", cs.media`/upload`, {
    bytes,
    contentType,
    ...(filename !== undefined ? { query: { filename } } : {}),
  });
  const m = MXC.exec(body.content_uri ?? "");
  if (!m) throw new Error(`precondition failed: the upload's content_uri ${JSON.stringify(body.content_uri)} is not an mxc://<server-name>/<media-id> URI`);
  return { serverName: m[1]!, mediaId: m[2]!, bytes };
}

function download(user: MatrixClient, media: { serverName: string; mediaId: string }, opts: { token?: null; query?: Record<string, string | number> } = {}) {
  return user.get(cs.v1`/media/download/${media.serverName}/${media.mediaId}`, opts);
}

/** The `filename` parameter of a Content-Disposition (RFC 6266: quoted, token, or RFC 8187 filename*). */
function dispositionFilename(header: string): string | undefined {
  const ext = /(?:^|;)\s*filename\*\s*=\s*([^']*)'[^']*'([^;\s]+)/i.exec(header);
  if (ext) {
    try {
      return decodeURIComponent(ext[2]!);
    } catch {
      return ext[2];
    }
  }
  const quoted = /(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted) return quoted[1]!.replace(/\\(.)/g, "$1");
  const token = /(?:^|;)\s*filename\s*=\s*([^;\s]+)/i.exec(header);
  return token?.[1];
}

function dispositionType(header: string | undefined): string | undefined {
  return header?.split(";")[0]?.trim().toLowerCase();
}

// ---- tests ----

describe("The media configuration", () => {
  test("answers GET /_matrix/client/v1/media/config, with m.upload.size a positive byte count when given", spec(CONFIG, "1.11"), async ({ alice }) => {
    const res = await alice.get(cs.v1`/media/config`);
    expect(res).toHaveStatus(200);
    const size = res.body["m.upload.size"];
    // "The maximum size an upload can be in bytes." (null or absent: unknown)
    if (size !== undefined && size !== null) expect(Number.isInteger(size) && size > 0, `m.upload.size ${JSON.stringify(size)} is a positive integer number of bytes`).toBe(true);
  });
});

describe("Uploading media", () => {
  test("answers an upload with an mxc:// URI naming the user's server and a media ID of A-Za-z0-9, _ and -", spec(UPLOAD, "1.0"), async ({ alice }) => {
    const res = await alice.request("POST", cs.media`/upload`, { bytes: randomBytes(64), contentType: "application/octet-stream", query: { filename: "blob.bin" } });
    expect(res).toHaveStatus(200);
    const uri = String(res.body.content_uri);
    const m = MXC.exec(uri);
    expect(m !== null, `content_uri ${JSON.stringify(uri)} has the form mxc://<server-name>/<media-id>, the media ID only A-Za-z0-9, _ and -`).toBe(true);
    // Uploads are stored by "the user's local homeserver", whose name the mxc:// carries.
    expect(m?.[1], "the content_uri's server name is the homeserver's own").toBe(serverNameOf(alice.userId));
  });

  test("refuses an upload without an access token with 401 M_MISSING_TOKEN", spec(UPLOAD, "1.0"), async ({ api }) => {
    const res = await api.request("POST", cs.media`/upload`, { bytes: randomBytes(16), contentType: "application/octet-stream", token: null });
    expect(res).toBeMatrixError(401, "M_MISSING_TOKEN");
  });

  test("refuses an upload larger than the advertised m.upload.size with 413 M_TOO_LARGE", spec(UPLOAD, "1.0", { level: "SHOULD" }), async ({ alice, skip }) => {
    // "Homeservers should not store files that are too large [...], returning a HTTP 413 error
    // with the M_TOO_LARGE code." (#content-repo-security-considerations)
    const config = await alice.step<{ "m.upload.size"?: number | null }>("read the media configuration", "GET", cs.v1`/media/config`);
    const limit = config["m.upload.size"];
    if (typeof limit !== "number") return skip("the target advertises no m.upload.size, so no upload is known to be too large");
    if (limit > 64 * 1024 * 1024) return skip(`the target's m.upload.size is ${limit} bytes; the harness sends at most 64 MiB`);
    const res = await alice.request("POST", cs.media`/upload`, { bytes: Buffer.alloc(limit + 1), contentType: "application/octet-stream" });
    expect(res).toBeMatrixError(413, "M_TOO_LARGE");
  });
});

describe("Downloading media (authenticated)", () => {
  test("returns the uploaded bytes unchanged", spec(DOWNLOAD, "1.11"), async ({ alice }) => {
    const media = await upload(alice, randomBytes(4096), "application/octet-stream");
    const res = await download(alice, media);
    expect(res).toHaveStatus(200);
    expect(`${res.bytes.length} bytes, sha256 ${sha256Hex(res.bytes)}`, "the downloaded body is the uploaded one").toBe(`${media.bytes.length} bytes, sha256 ${sha256Hex(media.bytes)}`);
  });

  test("serves the Content-Type the media was uploaded with", spec(DOWNLOAD, "1.12"), async ({ alice }) => {
    // "The server MUST return a Content-Type which is either exactly the same as the original
    // upload, or reasonably close." A PNG uploaded as image/png is neither text nor mislabelled.
    const media = await upload(alice, drawPng(8, 8), "image/png");
    const res = await download(alice, media);
    expect(res).toHaveStatus(200);
    expect(mediaTypeOf(res.headers["content-type"]), "the download's Content-Type is the uploaded image/png").toBe("image/png");
  });

  test("gives a Content-Disposition of inline or attachment carrying the filename the upload named", spec(DOWNLOAD, "1.12"), async ({ alice }) => {
    // "If the upload was made with a filename, this header MUST contain the same filename."
    const filename = `report ${uniqueLocalpart("f")}.txt`;
    const media = await upload(alice, Buffer.from("hello media\n", "utf8"), "text/plain", filename);
    const res = await download(alice, media);
    expect(res).toHaveStatus(200);
    const cd = res.headers["content-disposition"];
    expect(cd !== undefined, "the download has a Content-Disposition header (required since v1.12)").toBe(true);
    expect(["inline", "attachment"], `Content-Disposition ${JSON.stringify(cd)} is inline or attachment`).toContain(dispositionType(cd));
    expect(dispositionFilename(cd ?? ""), `Content-Disposition ${JSON.stringify(cd)} names the uploaded filename`).toBe(filename);
  });

  test("gives no filename in Content-Disposition for media uploaded without one", spec(DOWNLOAD, "1.12"), async ({ alice }) => {
    // "Otherwise, filename is excluded from the header."
    const media = await upload(alice, randomBytes(32), "application/octet-stream");
    const res = await download(alice, media);
    expect(res).toHaveStatus(200);
    const cd = res.headers["content-disposition"];
    expect(["inline", "attachment"], `Content-Disposition ${JSON.stringify(cd)} is inline or attachment`).toContain(dispositionType(cd));
    expect(dispositionFilename(cd ?? ""), `Content-Disposition ${JSON.stringify(cd)} names no filename`).toBeUndefined();
  });

  test("serves a type from the inline list as inline and any other type as attachment", spec(DOWNLOAD, "1.12", { level: "SHOULD" }), async ({ alice }) => {
    // "If the Content-Type is allowed in the restrictions for serving inline content, servers
    // SHOULD use inline, otherwise they SHOULD use attachment."
    const png = await upload(alice, drawPng(4, 4), "image/png");
    const html = await upload(alice, Buffer.from("<!doctype html><title>x</title><script>1</script>", "utf8"), "text/html");
    const resPng = await download(alice, png);
    const resHtml = await download(alice, html);
    expect(resPng).toHaveStatus(200);
    expect(resHtml).toHaveStatus(200);
    expect(dispositionType(resPng.headers["content-disposition"]), "image/png (on the inline list) is served inline").toBe("inline");
    expect(dispositionType(resHtml.headers["content-disposition"]), "text/html (not on the inline list) is served as attachment").toBe("attachment");
  });

  test("sends the recommended Content-Security-Policy with the content", spec(DOWNLOAD, "1.11", { level: "SHOULD" }), async ({ alice }) => {
    // "When serving content, the server SHOULD provide a Content-Security-Policy header."
    const media = await upload(alice, randomBytes(32), "application/octet-stream");
    const res = await download(alice, media);
    expect(res).toHaveStatus(200);
    const csp = res.headers["content-security-policy"] ?? "";
    expect(/\bsandbox\b/.test(csp) && /default-src\s+'none'/.test(csp), `Content-Security-Policy ${JSON.stringify(csp)} sandboxes the content with default-src 'none' as recommended`).toBe(true);
  });

  test("sends Cross-Origin-Resource-Policy: cross-origin with the content", spec(DOWNLOAD, "1.11", { level: "SHOULD" }), async ({ alice }) => {
    // "The server SHOULD additionally provide Cross-Origin-Resource-Policy: cross-origin."
    const media = await upload(alice, randomBytes(32), "application/octet-stream");
    const res = await download(alice, media);
    expect(res).toHaveStatus(200);
    expect(res.headers["cross-origin-resource-policy"], "the Cross-Origin-Resource-Policy header").toBe("cross-origin");
  });

  test("names the file requested in the path in Content-Disposition", spec(DOWNLOAD_NAMED, "1.11"), async ({ alice }) => {
    // "MUST be one of inline or attachment, and MUST contain the file name requested in the path."
    const media = await upload(alice, Buffer.from("renamed\n", "utf8"), "text/plain", "original.txt");
    const wanted = `renamed-${uniqueLocalpart("f")}.txt`;
    const res = await alice.get(cs.v1`/media/download/${media.serverName}/${media.mediaId}/${wanted}`);
    expect(res).toHaveStatus(200);
    expect(sha256Hex(res.bytes), "the renamed download's bytes are the uploaded ones").toBe(sha256Hex(media.bytes));
    const cd = res.headers["content-disposition"];
    expect(["inline", "attachment"], `Content-Disposition ${JSON.stringify(cd)} is inline or attachment`).toContain(dispositionType(cd));
    expect(dispositionFilename(cd ?? ""), `Content-Disposition ${JSON.stringify(cd)} names the file requested in the path`).toBe(wanted);
  });

  test("refuses a download without an access token with 401 M_MISSING_TOKEN", spec(DOWNLOAD, "1.11"), async ({ alice, api }) => {
    // The endpoint requires authentication (security: access token); a request without one is
    // answered 401 M_MISSING_TOKEN (#using-access-tokens).
    const media = await upload(alice, randomBytes(32), "application/octet-stream");
    const res = await download(api, media, { token: null });
    expect(res).toBeMatrixError(401, "M_MISSING_TOKEN");
  });

  test("answers a media ID the server never issued with 404 M_NOT_FOUND", spec(DOWNLOAD, "1.11"), async ({ alice }) => {
    // M_NOT_FOUND: "No resource was found for this request." (#common-error-codes)
    const res = await download(alice, { serverName: serverNameOf(alice.userId), mediaId: uniqueLocalpart("nomedia").replace(/[^A-Za-z0-9_-]/g, "_") });
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

describe("Thumbnails", () => {
  const ORIGINAL = { width: 160, height: 120 };

  for (const { method, width, height } of [
    { method: "crop", width: 32, height: 32 },
    { method: "scale", width: 64, height: 48 },
  ] as const) {
    test(`answers a ${method} thumbnail of a PNG at ${width}x${height} with an image no smaller than asked and no larger than the original`, spec(THUMBNAIL, "1.11"), async ({ alice }) => {
      const media = await upload(alice, drawPng(ORIGINAL.width, ORIGINAL.height), "image/png");
      const res = await alice.get(cs.v1`/media/thumbnail/${media.serverName}/${media.mediaId}`, { query: { width, height, method } });
      expect(res).toHaveStatus(200);
      const type = mediaTypeOf(res.headers["content-type"]);
      expect(["image/jpeg", "image/png", "image/apng", "image/gif", "image/webp"], `the thumbnail's Content-Type ${JSON.stringify(type)} is one the endpoint allows`).toContain(type);
      // Content-Disposition (since v1.12): "MUST be inline".
      expect(dispositionType(res.headers["content-disposition"]), `the thumbnail's Content-Disposition ${JSON.stringify(res.headers["content-disposition"])} is inline`).toBe("inline");
      const size = imageSize(res.bytes);
      expect(typeof size === "string" ? size : `${size.format} ${size.width}x${size.height}`, "the thumbnail's bytes are an image of its Content-Type").toMatch(new RegExp(`^${(type === "image/apng" ? "image/png" : type ?? "?").replace("/", "\\/")} \\d+x\\d+$`));
      if (typeof size === "string") return;
      // "Servers MUST NOT upscale thumbnails under any circumstance. Servers MUST NOT return a
      // smaller thumbnail than requested, unless the original content makes that impossible."
      const problems: string[] = [];
      if (size.width > ORIGINAL.width || size.height > ORIGINAL.height) problems.push(`the thumbnail ${size.width}x${size.height} is larger than the ${ORIGINAL.width}x${ORIGINAL.height} original`);
      if (size.width < width || size.height < height) problems.push(`the thumbnail ${size.width}x${size.height} is smaller than the ${width}x${height} requested, though the ${ORIGINAL.width}x${ORIGINAL.height} original allows it`);
      // "scale" maintains the original aspect ratio of the image (one pixel of rounding allowed).
      if (method === "scale" && Math.abs(size.width * ORIGINAL.height - size.height * ORIGINAL.width) > Math.max(ORIGINAL.width, ORIGINAL.height)) {
        problems.push(`the scaled thumbnail ${size.width}x${size.height} does not keep the original's ${ORIGINAL.width}:${ORIGINAL.height} aspect ratio`);
      }
      expect(problems, "what the thumbnail's size breaks").toEqual([]);
    });
  }

  for (const [what, query] of [
    ["a non-integer width", { width: "wide", height: 32, method: "scale" }],
    ["a negative width and height", { width: -32, height: -32, method: "crop" }],
  ] as const) {
    test(`refuses a thumbnail request with ${what} with 400`, spec(THUMBNAIL, "1.11"), async ({ alice }) => {
      // 400: "For example, the client requested non-integer dimensions or asked for negatively-sized images."
      const media = await upload(alice, drawPng(40, 30), "image/png");
      const res = await alice.get(cs.v1`/media/thumbnail/${media.serverName}/${media.mediaId}`, { query });
      expect(res).toBeMatrixError(400, undefined, `the thumbnail endpoint documents 400 for ${what}`);
    });
  }

  test("refuses to thumbnail content that is not an image with 400", spec(THUMBNAIL, "1.11"), async ({ alice }) => {
    // 400: "The request does not make sense to the server, or the server cannot thumbnail the content."
    const media = await upload(alice, Buffer.from("plain text, not pixels\n", "utf8"), "text/plain");
    const res = await alice.get(cs.v1`/media/thumbnail/${media.serverName}/${media.mediaId}`, { query: { width: 32, height: 32, method: "scale" } });
    expect(res).toBeMatrixError(400, undefined, "a text file cannot be thumbnailed, which the endpoint answers with 400");
  });
});

describe("Creating an mxc:// URI, then uploading to it", () => {
  async function create(user: UserClient): Promise<{ serverName: string; mediaId: string }> {
    const body = await user.step<{ content_uri: string }>("create an mxc:// URI", "POST", "/_matrix/media/v1/create", { body: {} });
    const m = MXC.exec(body.content_uri ?? "");
    if (!m) throw new Error(`precondition failed: the created content_uri ${JSON.stringify(body.content_uri)} is not an mxc://<server-name>/<media-id> URI`);
    return { serverName: m[1]!, mediaId: m[2]! };
  }

  test("answers POST /_matrix/media/v1/create with an mxc:// URI and a future unused_expires_at", spec(CREATE, "1.7"), async ({ alice }) => {
    const before = Date.now();
    const res = await alice.post("/_matrix/media/v1/create", {});
    expect(res).toHaveStatus(200);
    const uri = String(res.body.content_uri);
    expect(MXC.test(uri), `content_uri ${JSON.stringify(uri)} has the form mxc://<server-name>/<media-id>, the media ID only A-Za-z0-9, _ and -`).toBe(true);
    const expires = res.body.unused_expires_at;
    // "the maximum POSIX millisecond timestamp to complete the upload"
    if (expires !== undefined) expect(expires > before, `unused_expires_at ${expires} is after the request (${before})`).toBe(true);
  });

  test("stores the bytes PUT to a created mxc:// URI, which then download unchanged", spec(PUT_UPLOAD, "1.7"), async ({ alice }) => {
    const media = await create(alice);
    const bytes = randomBytes(1024);
    const res = await alice.request("PUT", cs.media`/upload/${media.serverName}/${media.mediaId}`, { bytes, contentType: "application/octet-stream" });
    expect(res).toHaveStatus(200);
    const got = await download(alice, media);
    expect(got.status, "the status of the download after the PUT").toBe(200);
    expect(sha256Hex(got.bytes), "the downloaded bytes are the ones PUT").toBe(sha256Hex(bytes));
  });

  test("refuses a second upload to the same mxc:// URI with 409 M_CANNOT_OVERWRITE_MEDIA", spec(PUT_UPLOAD, "1.7"), async ({ alice }) => {
    const media = await create(alice);
    await alice.step("upload to the created mxc:// URI", "PUT", cs.media`/upload/${media.serverName}/${media.mediaId}`, { bytes: randomBytes(64), contentType: "application/octet-stream" });
    const res = await alice.request("PUT", cs.media`/upload/${media.serverName}/${media.mediaId}`, { bytes: randomBytes(64), contentType: "application/octet-stream" });
    expect(res).toBeMatrixError(409, "M_CANNOT_OVERWRITE_MEDIA");
  });

  test("answers a download of a created mxc:// URI not yet uploaded, after timeout_ms, with 504 M_NOT_YET_UPLOADED", spec(DOWNLOAD, "1.11"), async ({ alice }) => {
    // 504: "The content is not yet available." with the errcode M_NOT_YET_UPLOADED.
    const media = await create(alice);
    const res = await download(alice, media, { query: { timeout_ms: 300 } });
    expect(res).toBeMatrixError(504, "M_NOT_YET_UPLOADED");
  });

  test("refuses a PUT to a media ID that was never created with 404 M_NOT_FOUND", spec(PUT_UPLOAD, "1.7"), async ({ alice }) => {
    // 404: "The MXC ID was not created with POST /_matrix/media/v1/create."
    const mediaId = uniqueLocalpart("never").replace(/[^A-Za-z0-9_-]/g, "_");
    const res = await alice.request("PUT", cs.media`/upload/${serverNameOf(alice.userId)}/${mediaId}`, { bytes: randomBytes(64), contentType: "application/octet-stream" });
    expect(res).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("refuses an upload by a user other than the creator with 403 M_FORBIDDEN", spec(PUT_UPLOAD, "1.7"), async ({ alice, bob }) => {
    // 403 when "the request comes from a different user than the one that called POST /_matrix/media/v1/create".
    const media = await create(alice);
    const res = await bob.request("PUT", cs.media`/upload/${media.serverName}/${media.mediaId}`, { bytes: randomBytes(64), contentType: "application/octet-stream" });
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });
});
