// The agent's decision learns the proven uid's name the cheap way (the
// files NSS reads first) and asks the name service for groups (`id` in its
// helper) only when the configuration file matches on groups; either way
// a name that is not the session's sends the session to route itself.
// Real configuration files and a real destination socket; the name
// service, /proc and the clock are the test's.
import assert from "node:assert/strict";
import { ConfigSource } from "../../src/agent/config_source.ts";
import type { ProcSource } from "../../src/agent/processes.ts";
import { decideRoute } from "../../src/agent/router.ts";
import { fail, ok, type Result } from "../../src/result.ts";
import type { UserIdentity } from "../../src/system/identity.ts";
import {
  CLIENT_PID,
  routeRequest,
  SESSION_PID,
  sshLikeListener,
  statLine,
  UID,
} from "./router_fixtures.ts";

const proc: ProcSource = {
  stat: () => Promise.resolve(new Map()),
  statAndUids: (pids) =>
    Promise.resolve(
      new Map(pids.map((pid) => [pid, {
        stat: statLine(pid === CLIENT_PID ? SESSION_PID : 1, 777),
        uids: `Uid:\t${UID}\t${UID}\t${UID}\t${UID}`,
      }])),
    ),
};

interface Lookups {
  names: number;
  identities: number;
}

async function decide(
  configText: string,
  directory: {
    name: () => Result<string>;
    identity: () => Result<UserIdentity>;
  },
  user = "alice",
) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sshproxy.yaml`;
  await Deno.writeTextFile(path, configText);
  const source = new ConfigSource(path, () => {});
  const loaded = await source.load();
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
  const lookups: Lookups = { names: 0, identities: 0 };
  const request = routeRequest(path, user);
  try {
    const decision = await decideRoute(request, {
      config: source,
      userName: () => {
        lookups.names++;
        return Promise.resolve(directory.name());
      },
      identity: () => {
        lookups.identities++;
        return Promise.resolve(directory.identity());
      },
      proc,
      services: () => undefined,
      etcd: () => undefined,
      store: () => Promise.resolve(fail("no etcd in this test")),
      routed: () => false,
      now: () => 1_700_000_000_000_000_000n,
    });
    return { reply: decision.reply, lookups };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const alice: UserIdentity = {
  user: "alice",
  uid: UID,
  groups: ["alice", "staff"],
  unnamedGroupIds: [],
};

Deno.test("a file without group matches is routed on the name alone, without asking for groups", async () => {
  const destination = sshLikeListener();
  try {
    const { reply, lookups } = await decide(
      `dest: [${JSON.stringify(destination.address)}]\n`,
      {
        name: () => ok("alice"),
        identity: () => fail("the name service must not be asked"),
      },
    );
    assert.equal(reply.kind, "route", JSON.stringify(reply));
    assert.equal(
      reply.kind === "route" ? reply.destination : "",
      destination.address,
    );
    assert.deepEqual(lookups, { names: 1, identities: 0 });
  } finally {
    destination.close();
  }
});

Deno.test("a file that matches on groups is resolved with the groups the name service gives", async () => {
  const everyone = sshLikeListener();
  const staff = sshLikeListener();
  try {
    const text = [
      `dest: [${JSON.stringify(everyone.address)}]`,
      "overrides:",
      "  - match:",
      "      - groups: [staff]",
      `    dest: [${JSON.stringify(staff.address)}]`,
      "",
    ].join("\n");
    const member = await decide(text, {
      name: () => ok("alice"),
      identity: () => ok(alice),
    });
    assert.equal(member.reply.kind, "route", JSON.stringify(member.reply));
    assert.equal(
      member.reply.kind === "route" ? member.reply.destination : "",
      staff.address,
    );
    assert.equal(member.lookups.identities, 1);

    const outsider = await decide(text, {
      name: () => ok("alice"),
      identity: () => ok({ ...alice, groups: ["alice"] }),
    });
    assert.equal(
      outsider.reply.kind === "route" ? outsider.reply.destination : "",
      everyone.address,
    );
  } finally {
    everyone.close();
    staff.close();
  }
});

Deno.test("a uid whose name is not the one the session sent routes itself, whichever way the name was found", async () => {
  const destination = sshLikeListener();
  try {
    const plain = `dest: [${JSON.stringify(destination.address)}]\n`;
    const byName = await decide(plain, {
      name: () => ok("mallory"),
      identity: () => ok({ ...alice, user: "mallory" }),
    });
    assert.equal(byName.reply.kind, "fallback");
    assert.match(
      byName.reply.kind === "fallback" ? byName.reply.reason : "",
      /uid 4242 is mallory for the agent, alice for the session/,
    );
    const grouped = [
      plain.trimEnd(),
      "overrides:",
      "  - match:",
      "      - groups: [staff]",
      "    debug: true",
      "",
    ].join("\n");
    const byGroups = await decide(grouped, {
      name: () => ok("alice"),
      identity: () => ok({ ...alice, user: "mallory" }),
    });
    assert.equal(byGroups.reply.kind, "fallback");

    const unknown = await decide(plain, {
      name: () => fail("id: 4242: no such user"),
      identity: () => fail("id: 4242: no such user"),
    });
    assert.equal(unknown.reply.kind, "fallback");
    assert.match(
      unknown.reply.kind === "fallback" ? unknown.reply.reason : "",
      /no such user/,
    );
  } finally {
    destination.close();
  }
});
