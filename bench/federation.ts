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
// Run: npx tsx bench/federation.ts [--messages N] [--events N]

import { parseArgs } from "node:util";
import { ROOM_VERSION_IDS } from "../harness/crypto/index.ts";
import { FederationPeer, createPeerRoom, createRunCa, newSigningKey, signRequest, verifyRequest, type SignableRequest } from "../harness/federation/index.ts";

const { values } = parseArgs({ options: { messages: { type: "string", default: "200" }, events: { type: "string", default: "300" } } });
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
