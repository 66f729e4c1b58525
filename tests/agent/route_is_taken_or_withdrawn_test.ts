// One session, one registration (protocol 2, src/agent/protocol.ts): the
// agent's socket server (src/agent/server.ts) and the session's client
// (src/session/agent_client.ts) over a real Unix socket and a real proof
// directory; only the decision is a stand-in, so that its timing is the
// test's. Whatever the interleaving of the agent's answer and the
// session's timeout, exactly one of them holds the registration: the
// session takes the route and the agent keeps it (accept), or the session
// routes itself and the agent withdraws it, or the agent withdraws it after
// the accept and the session registers itself; never both, never neither.
import assert from "node:assert/strict";
import { prepareProofDir } from "../../src/agent/proof.ts";
import {
  LineReader,
  type RouteReply,
  type RouteRequest,
} from "../../src/agent/protocol.ts";
import {
  type AgentServer,
  type ProvisionalRoute,
  startServer,
} from "../../src/agent/server.ts";
import { askAgent, UID } from "./session_asks.ts";
import { startEtcd } from "../harness/mod.ts";

interface Trace {
  abandoned: number;
  decided: number;
  accepted: number;
  withdrawn: string[];
}

const ROUTE: RouteReply = {
  kind: "route",
  destination: "server1:22",
  service: "default",
  log: [["INFO", "found destination"]],
};

async function agentOn(
  dir: string,
  decide: () => Promise<void>,
  options: { acceptDeadlineMs?: number } = {},
): Promise<{ server: AgentServer; trace: Trace; socket: string }> {
  const trace: Trace = { abandoned: 0, decided: 0, accepted: 0, withdrawn: [] };
  const socket = `${dir}/agent.sock`;
  const proofDir = `${dir}/proof`;
  const prepared = await prepareProofDir(proofDir, UID);
  assert.ok(prepared.ok, prepared.ok ? "" : prepared.error);
  const server = await startServer({
    socketPath: socket,
    proofDir,
    acceptDeadlineMs: options.acceptDeadlineMs,
    handlers: {
      async route(_request: RouteRequest) {
        await decide();
        trace.decided++;
        let open = true;
        const provisional: ProvisionalRoute = {
          accept() {
            assert.ok(open, "accepted after it was withdrawn");
            open = false;
            trace.accepted++;
            return undefined;
          },
          withdraw(reason) {
            assert.ok(open, "withdrawn after it was accepted");
            open = false;
            trace.withdrawn.push(reason);
            return Promise.resolve();
          },
        };
        return { reply: ROUTE, provisional };
      },
      report() {},
      abandoned() {
        trace.abandoned++;
      },
      rejected(category, detail) {
        throw new Error(`rejected: ${category} ${detail}`);
      },
    },
  });
  return { server, trace, socket };
}

/**
 * Asks an agent that withdraws every route after the session's accept
 * (scriptedAgent "close"); the session's log lines are in `log`.
 */
async function askWithdrawing(dir: string, timeout: string, extra = "") {
  const closing = await scriptedAgent(dir, "close");
  const log: string[] = [];
  const routed = await askAgent(closing.socket, timeout, log, extra);
  return { closing, log, routed };
}

/** Runs `test` with a fresh temporary directory, removed afterwards. */
async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !probe(); i++) await sleep(10);
  assert.ok(probe(), what);
}

/** A raw client: proves itself, asks, and returns the connection after the route. */
async function rawClient(socket: string) {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const reader = new LineReader(conn);
  const line = async () => {
    const next = await reader.next();
    return next.ok ? next.value : `error: ${next.error}`;
  };
  const hello = JSON.parse((await line())!);
  (await Deno.open(`${hello.proofDir}/${hello.nonce}`, {
    createNew: true,
    write: true,
    mode: 0o600,
  })).close();
  const request: RouteRequest = {
    kind: "route",
    uid: UID,
    user: "root",
    pid: Deno.pid,
    sessionPid: Deno.pid,
    config: "/etc/sshproxy/sshproxy.yaml",
    sshd: "127.0.0.1:22",
    client: "127.0.0.1:40000",
    sessionId: "0123456789",
    stats: false,
  };
  await conn.write(new TextEncoder().encode(`${JSON.stringify(request)}\n`));
  const reply = await line();
  return {
    reply,
    line,
    send: (text: string) => conn.write(new TextEncoder().encode(text)),
    close: () => conn.close(),
  };
}

Deno.test("a session that takes the route is confirmed and the agent keeps it", async () => {
  const dir = await Deno.makeTempDir();
  const { server, trace, socket } = await agentOn(dir, () => Promise.resolve());
  try {
    const log: string[] = [];
    const routed = await askAgent(socket, "2s", log);
    assert.ok(routed !== undefined && "destination" in routed);
    assert.equal(routed.destination, "server1:22");
    await routed.shared.close();
    assert.deepEqual(trace, {
      abandoned: 0,
      decided: 1,
      accepted: 1,
      withdrawn: [],
    });
    // The agent's log lines are the session's once it took the route.
    assert.ok(log.includes("INFO found destination"), log.join("\n"));
    assert.ok(log.some((l) => /route given by the agent/.test(l)));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an agent that answers after the session's timeout withdraws its route", async () => {
  const dir = await Deno.makeTempDir();
  const { server, trace, socket } = await agentOn(dir, () => sleep(400));
  try {
    const log: string[] = [];
    const routed = await askAgent(socket, "100ms", log);
    assert.equal(routed, undefined, "the session routes itself");
    assert.ok(
      log.some((l) => /no answer within 100 ms; routing without it/.test(l)),
    );
    assert.ok(!log.includes("INFO found destination"));
    await until("the agent withdrew", () => trace.withdrawn.length === 1);
    assert.equal(trace.accepted, 0);
    assert.match(trace.withdrawn[0], /closed its connection/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a live agent slower than agent.timeout keeps the session while within agent.decision_timeout", async () => {
  const dir = await Deno.makeTempDir();
  // A burst of logins: the agent greets at once, then decides late.
  const { server, trace, socket } = await agentOn(dir, () => sleep(400));
  try {
    const log: string[] = [];
    const routed = await askAgent(
      socket,
      { greeting: "100ms", decision: "5s" },
      log,
    );
    assert.ok(
      routed !== undefined && "destination" in routed,
      `the session took the agent's route\n${log.join("\n")}`,
    );
    await routed.shared.close();
    assert.deepEqual(trace, {
      abandoned: 0,
      decided: 1,
      accepted: 1,
      withdrawn: [],
    });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session that leaves after the greeting, read or not, is counted as abandoned, not as a bad request", async () => {
  await inTempDir(async (dir) => {
    const { server, trace, socket } = await agentOn(
      dir,
      () => Promise.resolve(),
    );
    try {
      // Read the greeting, then left: the agent reads the end of stream.
      const reading = await Deno.connect({ transport: "unix", path: socket });
      const greeting = await new LineReader(reading).next();
      assert.ok(greeting.ok && /"nonce"/.test(greeting.value ?? ""));
      reading.close();
      await until("the first counted", () => trace.abandoned === 1);
      // Gave up before reading it (agent.timeout passed): Linux resets a
      // Unix socket closed with unread data, and the agent reads the reset.
      const hasty = await Deno.connect({ transport: "unix", path: socket });
      await sleep(50);
      hasty.close();
      await until("the second counted", () => trace.abandoned === 2);
      assert.equal(trace.decided, 0);
    } finally {
      await server.close();
    }
  });
});

Deno.test("an agent that never greets (stopped, hung, out of files) costs agent.timeout, not agent.decision_timeout", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/mute.sock`;
  // Takes connections and says nothing, as a stopped agent's backlog does.
  const listener = Deno.listen({ transport: "unix", path: socket });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const log: string[] = [];
    const started = performance.now();
    const routed = await askAgent(
      socket,
      { greeting: "100ms", decision: "10s" },
      log,
    );
    const waitedMs = performance.now() - started;
    assert.equal(routed, undefined, "the session routes itself");
    assert.ok(
      log.some((l) => /no greeting within 100 ms; routing without it/.test(l)),
      log.join("\n"),
    );
    // Well below the decision's 10 s: the greeting's bound applied.
    assert.ok(waitedMs < 5000, `waited ${waitedMs} ms`);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("whatever the race between answer and timeout, exactly one side holds the registration", async () => {
  const dir = await Deno.makeTempDir();
  let delayMs = 0;
  const { server, trace, socket } = await agentOn(dir, () => sleep(delayMs));
  try {
    let taken = 0;
    let selfRouted = 0;
    // Decisions that end around the session's 60 ms timeout.
    for (let i = 0; i < 24; i++) {
      delayMs = 35 + (i % 12) * 5;
      const routed = await askAgent(socket, "60ms");
      if (routed === undefined) selfRouted++;
      else {
        assert.ok("shared" in routed);
        taken++;
        await routed.shared.close();
      }
      await until(
        "the agent decided and settled the route",
        () =>
          trace.decided === i + 1 &&
          trace.accepted + trace.withdrawn.length === trace.decided,
      );
      assert.equal(trace.accepted, taken, `after ${i + 1} logins`);
      assert.equal(trace.withdrawn.length, selfRouted);
    }
    console.log(
      `${taken} took the agent's route, ${selfRouted} routed themselves`,
    );
    assert.equal(taken + selfRouted, 24);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client that neither accepts nor closes loses its route at the deadline", async () => {
  const dir = await Deno.makeTempDir();
  const { server, trace, socket } = await agentOn(
    dir,
    () => Promise.resolve(),
    { acceptDeadlineMs: 300 },
  );
  try {
    const client = await rawClient(socket);
    assert.match(client.reply ?? "", /"kind":"route"/);
    await until(
      "withdrawn at the deadline",
      () => trace.withdrawn.length === 1,
    );
    assert.match(trace.withdrawn[0], /did not accept the route in time/);
    // The agent closed the connection: a late accept learns it was withdrawn.
    assert.equal(await client.line(), undefined);
    client.close();
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an accept followed at once by a close keeps the route; anything else withdraws it", async () => {
  const dir = await Deno.makeTempDir();
  const { server, trace, socket } = await agentOn(dir, () => Promise.resolve());
  try {
    const taking = await rawClient(socket);
    await taking.send('{"kind":"accept"}\n');
    taking.close();
    await until("accepted", () => trace.accepted === 1);
    const other = await rawClient(socket);
    await other.send('{"kind":"started","seconds":0.1}\n');
    assert.equal(await other.line(), undefined, "closed by the agent");
    other.close();
    await until("withdrawn", () => trace.withdrawn.length === 1);
    assert.match(trace.withdrawn[0], /something else than accept/);
    assert.equal(trace.accepted, 1);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an agent that stops withdraws the routes not yet accepted before it is gone", async () => {
  const dir = await Deno.makeTempDir();
  const { server, trace, socket } = await agentOn(dir, () => Promise.resolve());
  const client = await rawClient(socket);
  assert.match(client.reply ?? "", /"kind":"route"/);
  await server.close();
  assert.equal(trace.withdrawn.length, 1, "withdrawn before close() returned");
  assert.equal(await client.line(), undefined);
  client.close();
  await Deno.remove(dir, { recursive: true });
});

/** A stand-in agent (protocol 2) whose conduct after the accept is the test's. */
async function scriptedAgent(
  dir: string,
  afterAccept: "close" | "silence" | "confirm",
  gate: Promise<void> = Promise.resolve(),
): Promise<{ socket: string; done: Promise<string | undefined> }> {
  const socket = `${dir}/scripted.sock`;
  const listener = Deno.listen({ transport: "unix", path: socket });
  const proofDir = `${dir}/proof`;
  await Deno.mkdir(proofDir, { mode: 0o1777 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const reader = new LineReader(conn);
    const send = (message: unknown) =>
      conn.write(new TextEncoder().encode(`${JSON.stringify(message)}\n`));
    await send({
      agent: "sshproxy-agent",
      version: 2,
      nonce: "0123456789abcdef0123456789abcdef",
      proofDir,
    });
    await reader.next(); // the request
    await send(ROUTE);
    const answer = await reader.next();
    if (afterAccept === "close") conn.close();
    else if (afterAccept === "confirm") {
      await gate;
      await send({ kind: "confirmed" });
      await reader.next(); // until the session closes
      conn.close();
    } else {
      await sleep(500);
      conn.close();
    }
    return answer.ok ? answer.value : undefined;
  })();
  return { socket, done };
}

Deno.test("a session whose accept the agent closes keeps its destination and registers itself; one the agent leaves unanswered keeps the agent's registration", async () => {
  await inTempDir(async (dir) => {
    const { closing, log, routed: taken } = await askWithdrawing(
      dir,
      "200ms",
    );
    assert.ok(taken !== undefined && "destination" in taken);
    assert.equal(taken.destination, "server1:22");
    assert.equal(await taken.shared.kept(), false);
    assert.equal(await closing.done, '{"kind":"accept"}');
    assert.ok(
      log.some((l) =>
        /withdrew the route it gave \(it is stopping\); the session registers itself/
          .test(l)
      ),
      log.join("\n"),
    );
    await taken.shared.close();
    await Deno.remove(`${dir}/proof`, { recursive: true });

    const silent = await scriptedAgent(dir, "silence");
    const kept: string[] = [];
    const routed = await askAgent(silent.socket, "100ms", kept);
    assert.ok(routed !== undefined && "destination" in routed);
    assert.equal(await routed.shared.kept(), true);
    assert.ok(
      kept.some((l) => /route accepted, not confirmed within 100 ms/.test(l)),
      kept.join("\n"),
    );
    await routed.shared.close();
    await silent.done;
  });
});

Deno.test("a session takes the route without waiting for the confirmation, and its close never passes for a withdrawal", async () => {
  await inTempDir(async (dir) => {
    // The agent confirms only when the test says: the session has its
    // route before that.
    let confirm = () => {};
    const gate = new Promise<void>((resolve) => confirm = resolve);
    const agent = await scriptedAgent(dir, "confirm", gate);
    const log: string[] = [];
    const routed = await askAgent(agent.socket, "5s", log);
    assert.ok(routed !== undefined && "destination" in routed);
    assert.ok(log.includes("INFO found destination"), log.join("\n"));
    let settled = false;
    const kept = routed.shared.kept().then((value) => {
      settled = true;
      return value;
    });
    // Closed before the confirmation: close() waits for it rather than
    // take its own closing for the agent's withdrawal.
    const closed = routed.shared.close();
    await sleep(50);
    assert.equal(settled, false, "kept() waits for the confirmation");
    confirm();
    assert.equal(await kept, true);
    await closed;
    assert.equal(await agent.done, '{"kind":"accept"}');
    assert.ok(!log.some((l) => /withdrew/.test(l)), log.join("\n"));
  });
});

Deno.test("a session whose route the agent withdrew after the accept holds its own key in etcd, removed at its end", async () => {
  await using etcd = await startEtcd();
  const keys = async () => {
    const listed = await etcd.etcdctl([
      "get",
      "--prefix",
      "--keys-only",
      "/sshproxy/connections/",
    ]);
    assert.ok(listed.ok, listed.stderr);
    return listed.stdout.split("\n").filter((line) => line !== "");
  };
  await inTempDir(async (dir) => {
    const { closing, log, routed } = await askWithdrawing(
      dir,
      "2s",
      `etcd:\n  endpoints: [${JSON.stringify(etcd.endpoint)}]\n  keyttl: 5\n`,
    );
    assert.ok(routed !== undefined && "destination" in routed);
    assert.equal(await routed.shared.kept(), false);
    let registered: string[] = [];
    for (let i = 0; i < 100 && registered.length === 0; i++) {
      registered = await keys();
      if (registered.length === 0) await sleep(20);
    }
    assert.equal(registered.length, 1, log.join("\n"));
    assert.match(
      registered[0],
      /^\/sshproxy\/connections\/root@default\/server1:22\//,
    );
    await routed.shared.close();
    assert.deepEqual(await keys(), [], "the session's key outlived it");
    await closing.done;
  });
});

Deno.test("under max_connections_per_user a session waits for the confirmation, and one whose route was withdrawn routes itself again", async () => {
  await inTempDir(async (dir) => {
    const { closing, log, routed } = await askWithdrawing(
      dir,
      "2s",
      "max_connections_per_user: 2\n",
    );
    // Not taken: it goes through routing (and admission) of its own.
    assert.equal(routed, undefined);
    assert.equal(await closing.done, '{"kind":"accept"}');
    assert.ok(
      log.some((l) => /withdrew the route it gave; routing without it/.test(l)),
      log.join("\n"),
    );
    assert.ok(!log.includes("INFO found destination"), log.join("\n"));
  });
});
