// Benchmark of the fake federation peers (harness/federation), without a target. Prints figures;
// asserts nothing.
//
//   peers        starting a peer (certificate from the run CA + HTTPS listener) and stopping it
//   x-matrix     signing and verifying request signatures (the canonical JSON of a small body)
//   events       building, hashing, signing and adding messages to a room model, per room version
//                (auth events selection and the state after each event included)
//   round trips  two peers over HTTPS on loopback: one joins the other's room, then sends
//                messages one per transaction; each is signature-checked, hash-checked and
//                authorised on receipt. Latency per transaction, p50/p95.
//   target       against Synapse (started with the run CA, as `matrix-conformance run` does): the
//                time of a complete join handshake of a peer user into a room created on the
//                target (make_join, sign, send_join, checks of the answer), and the rate at which
//                the target accepts a peer's PDUs over /send (messages in transactions of 50),
//                with the peer's own share (building, hashing, signing) shown apart.
// Run: npx tsx bench/federation.ts [--messages N] [--events N] [--target-messages N] [--no-target]

import { parseArgs } from "node:util";
import { ROOM_VERSION_IDS } from "../harness/crypto/index.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MatrixClient } from "../harness/client/client.ts";
import { ExchangeLog } from "../harness/client/exchange.ts";
import { newUserClient } from "../harness/client/register.ts";
import { defaultCacheDir, startTarget } from "../harness/targets/index.ts";
import { FederationPeer, createPeerRoom, createRunCa, newSigningKey, signRequest, verifyRequest, type SignableRequest } from "../harness/federation/index.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "200" },
    events: { type: "string", default: "300" },
    "target-messages": { type: "string", default: "200" },
    "no-target": { type: "boolean", default: false },
  },
});
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? 0;
const ms = (x: number) => `${x.toFixed(2)} ms`;

const ca = await createRunCa();

console.log("## peers");
{
  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const p = await FederationPeer.start({ ca });
    starts.push(performance.now() - t0);
    const s0 = performance.now();
    await p.stop();
    stops.push(performance.now() - s0);
  }
  console.log(`start: p50 ${ms(pct(starts, 50))}, max ${ms(Math.max(...starts))}; stop: p50 ${ms(pct(stops, 50))}`);
}

console.log("## x-matrix");
{
  const key = newSigningKey();
  const req: SignableRequest = { method: "PUT", uri: "/_matrix/federation/v1/send/t1", origin: "a.example", destination: "b.example", content: { origin: "a.example", origin_server_ts: 1, pdus: [] } };
  const n = 2000;
  let t0 = performance.now();
  let header = "";
  for (let i = 0; i < n; i++) header = signRequest(req, key);
  const signMs = (performance.now() - t0) / n;
  t0 = performance.now();
  for (let i = 0; i < n; i++) await verifyRequest({ ...req, authorization: header, keyFor: async () => key.publicKey });
  const verifyMs = (performance.now() - t0) / n;
  console.log(`sign: ${ms(signMs)} each (${Math.round(1000 / signMs)}/s); verify: ${ms(verifyMs)} each (${Math.round(1000 / verifyMs)}/s)`);
}

console.log("## events");
{
  const signer = { serverName: "peer.example", key: newSigningKey() };
  const n = Number(values.events);
  const rows: string[] = [];
  for (const version of ROOM_VERSION_IDS) {
    const room = createPeerRoom(signer, { version, creator: "@alice:peer.example" });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) room.addEvent(room.build({ type: "m.room.message", sender: "@alice:peer.example", content: { msgtype: "m.text", body: `m${i}` } }, signer));
    const each = (performance.now() - t0) / n;
    rows.push(`v${version}: ${ms(each)}/event (${Math.round(1000 / each)}/s)`);
  }
  console.log(`${n} messages per room version: ${rows.join("; ")}`);
}

console.log("## round trips");
{
  const a = await FederationPeer.start({ ca });
  const b = await FederationPeer.start({ ca, target: { serverName: a.serverName } });
  a.handle.joins();
  a.handle.transactions();
  const room = a.createRoom({ version: "12", creator: a.userId("alice") });
  const t0 = performance.now();
  await b.joinRoomOnTarget(room.roomId, b.userId("bob"), "12");
  const joinMs = performance.now() - t0;
  const n = Number(values.messages);
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await b.sendMessage(room.roomId, b.userId("bob"), `m${i}`);
    lat.push(performance.now() - s);
  }
  console.log(`join (make_join + send_join, keys fetched): ${ms(joinMs)}`);
  console.log(`${n} transactions of one message: p50 ${ms(pct(lat, 50))}, p95 ${ms(pct(lat, 95))}, max ${ms(Math.max(...lat))}; ${(n / (lat.reduce((x, y) => x + y, 0) / 1000)).toFixed(0)} transactions/s`);
  console.log(`exchanges recorded: ${a.log.exchanges.length + b.log.exchanges.length}; unexpected: ${a.unexpectedRequests().length + b.unexpectedRequests().length}`);
  await Promise.all([a.stop(), b.stop()]);
}

if (!values["no-target"]) {
  console.log("## target: Synapse");
  const reportDir = await mkdtemp(join(tmpdir(), "mc-bench-fed-"));
  const deployment = await startTarget({ target: "synapse", reportDir, cacheDir: defaultCacheDir(), ca });
  try {
    const info = deployment.info;
    if (!info.federation) throw new Error("the target was started without federation");
    const log = new ExchangeLog();
    const api = new MatrixClient({ baseUrl: info.baseUrl, log });
    const alice = await newUserClient(api, { sharedSecret: info.registration.sharedSecret, prefix: "bench" });
    const peer = await FederationPeer.start({ ca, target: { serverName: info.serverName, url: info.federation.url } });
    // Complete join handshakes, each into a fresh room (the first also fetches the target's keys).
    const joins: number[] = [];
    for (let i = 0; i < 5; i++) {
      const roomId = await alice.createRoom({ preset: "public_chat", room_version: "12" });
      const t0 = performance.now();
      await peer.joinRoomOnTarget(roomId, peer.userId(`bob${i}`), "12", { strict: false });
      joins.push(performance.now() - t0);
    }
    console.log(`join handshake (make_join + sign + send_join + checks): first ${ms(joins[0]!)} (keys fetched), then p50 ${ms(pct(joins.slice(1), 50))}, max ${ms(Math.max(...joins.slice(1)))}`);
    // A room on the peer that alice joins, then messages in transactions of 50.
    peer.handle.transactions();
    peer.handle.joins();
    const bob = peer.userId("bob");
    const room = peer.createRoom({ version: "12", creator: bob });
    const joined = await alice.post(`/_matrix/client/v3/join/${encodeURIComponent(room.roomId)}`, {}, { query: { server_name: peer.serverName } });
    if (joined.status !== 200) throw new Error(`alice could not join the peer's room: ${joined.status}`);
    const n = Number(values["target-messages"]);
    const batch = 50;
    let buildMs = 0;
    let sendMs = 0;
    let accepted = 0;
    for (let i = 0; i < n; i += batch) {
      const b0 = performance.now();
      const pdus = [];
      for (let j = i; j < Math.min(n, i + batch); j++) pdus.push(peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: `bench ${j}` } }));
      buildMs += performance.now() - b0;
      const s0 = performance.now();
      const { errors } = await peer.sendPdus(room.roomId, pdus, { expectAccepted: false });
      sendMs += performance.now() - s0;
      accepted += Object.values(errors).filter((e) => e === undefined).length;
    }
    const total = buildMs + sendMs;
    console.log(`${n} messages in transactions of ${batch}: ${accepted} accepted; ${(n / (total / 1000)).toFixed(0)} events/s overall, ${(n / (sendMs / 1000)).toFixed(0)} events/s counting only /send`);
    console.log(`  peer's share (build, hash, sign, model): ${ms(buildMs)} (${((buildMs / total) * 100).toFixed(1)}%); target's /send round trips: ${ms(sendMs)} (${ms(sendMs / Math.ceil(n / batch))} per transaction)`);
    const reasons = [...new Set(peer.unexpectedRequests().map((u) => u.reason.slice(0, 100)))];
    console.log(`  requests the peer had no handler for: ${peer.unexpectedRequests().length}${reasons.length ? ` (${reasons.join("; ")})` : ""}`);
    await peer.stop();
  } finally {
    await deployment.stop();
    await rm(reportDir, { recursive: true, force: true });
  }
}
