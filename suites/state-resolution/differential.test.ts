// Differential state resolution: forks injected over federation by three fake peers, the
// target's state at their merge (federation state_ids and the client's room state) compared with
// the reference model's (harness/stateres). How a case is arranged, played and judged, and the
// readings behind "the spec leaves this open", are in harness/stateres/README.md ("Differential
// tests"); the code is harness/fixtures/stateres-differential.ts.
//
// Cases: the named forks below once per state resolution algorithm (v2 in room version 10, v2.1
// in 12), then MATRIX_CONFORMANCE_STATERES_DIFF_RUNS (default 4) random forks from
// MATRIX_CONFORMANCE_STATERES_DIFF_SEED (default 1) in each of 10, 11 and 12.
// Spec: rooms/v10/#state-resolution, rooms/v11/#state-resolution (state resolution v2, defined in
// rooms/v2), rooms/v12/#state-resolution (v2.1); server-server-api/#checks-performed-on-receipt-of-a-pdu.
import { onePerRuleClass, roomVersion as rulesOf } from "../../harness/crypto/index.ts";
import { describe, inRoomVersion, spec, test } from "../../harness/fixtures/federation.ts";
import { forkRoom, runForkCase, type ForkUsers } from "../../harness/fixtures/stateres-differential.ts";
import { settings } from "../../harness/settings.ts";
import { forkSeed, randomFork, seededRandom, type NamedFork, type Op } from "../../harness/stateres/index.ts";

/** The versions the random forks run in: the current auth rules (integer power levels, v10+) under both algorithms. */
const DIFFERENTIAL_VERSIONS = ["10", "11", "12"] as const;
/** The named forks run once per state resolution algorithm among them: v2 (10) and v2.1 (12). */
const NAMED_FORK_VERSIONS: readonly string[] = onePerRuleClass((r) => r.stateRes, DIFFERENTIAL_VERSIONS);

const SEED = settings().stateresDiffSeed;
const RUNS = settings().stateresDiffRuns;

const at = (ts: number, op: Op) => ({ op, ts });

/** The named forks: each title with its branches over the room's users. */
const NAMED_FORKS: ReadonlyArray<NamedFork<ForkUsers>> = [
  {
    name: "a demotion by the creator and a concurrent ban by the demoted moderator",
    branches: (u) => [[at(0, { kind: "power", sender: u.creator, target: u.amy, level: 0 })], [at(0, { kind: "ban", sender: u.amy, target: u.bea })]],
  },
  {
    name: "two topic changes at the same timestamp",
    branches: (u) => [[at(0, { kind: "topic", sender: u.bob, text: "bob's topic" })], [at(0, { kind: "topic", sender: u.amy, text: "amy's topic" })]],
  },
  {
    name: "a join rule change to invite and a concurrent join",
    branches: (u) => [[at(0, { kind: "join_rules", sender: u.creator, rule: "invite" })], [at(1, { kind: "join", sender: u.cid })]],
  },
  {
    name: "a promotion and a concurrent kick of the promoted user, who then renames the room",
    branches: (u) => [
      [at(1, { kind: "kick", sender: u.amy, target: u.bea })],
      [at(0, { kind: "power", sender: u.bob, target: u.bea, level: 50 }), at(2, { kind: "name", sender: u.bea, text: "bea's room" })],
    ],
  },
  {
    name: "three branches: a promotion, a demotion and a topic change",
    branches: (u) => [
      [at(0, { kind: "power", sender: u.creator, target: u.bob, level: 75 })],
      [at(0, { kind: "power", sender: u.amy, target: u.bea, level: 25 })],
      [at(0, { kind: "topic", sender: u.bob, text: "bob's topic" })],
    ],
  },
];

describe.for(DIFFERENTIAL_VERSIONS)("room version %s", (version) => {
  test.override(inRoomVersion(version));
  const ref = spec(`rooms/v${version}/#state-resolution`, rulesOf(version).since);

  if (NAMED_FORK_VERSIONS.includes(version)) for (const fork of NAMED_FORKS) {
    test(`state at a merge: ${fork.name}, as the model resolves it`, ref, async ({ peer, newPeer, alice, roomVersion, skip, annotate }) => {
      const world = await forkRoom(roomVersion, { peer, newPeer, alice });
      await runForkCase(world, { name: fork.name, branches: fork.branches(world.users) }, { seed: SEED, skip, annotate, strict: true });
    });
  }

  for (let run = 0; run < RUNS; run++) {
    const seed = forkSeed(SEED, run, version);
    // The title keeps the variable's old name: it is part of the test's id.
    test(`state at a merge of random forks #${run} (STATERES_DIFF_SEED ${SEED}), as the model resolves it`, ref, async ({ peer, newPeer, alice, roomVersion, skip, annotate }) => {
      const world = await forkRoom(roomVersion, { peer, newPeer, alice });
      const u = world.users;
      const fork = randomFork(seededRandom(seed), [u.creator, u.amy, u.bob, u.bea, u.cid], u.creator, `random fork seed ${seed}`);
      await runForkCase(world, fork, { seed: SEED, skip, annotate });
    });
  }
});
