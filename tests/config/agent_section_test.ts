// The `agent:` section (our addition, sshproxy-agent(8)): its defaults, what
// it accepts, one-line errors for what it refuses (an address that would
// listen on every interface without saying so), and overrides that turn
// the agent off for some sessions.
import assert from "node:assert/strict";
import { configListing } from "../../src/config/listing.ts";
import { describeUnknownKeys } from "../../src/config/unknown_keys.ts";
import { effective, parse } from "./fixture_helpers.ts";

Deno.test("without an agent section sessions never ask an agent; metrics default to loopback", async () => {
  const { config } = await effective("dest: [d]\n", "alice", []);
  assert.deepEqual(config.agent, {
    socket: "",
    metrics: "127.0.0.1:9649",
    timeout: 200_000_000n,
    decisionTimeout: 2_000_000_000n,
  });
});

Deno.test("the agent section is read, listed and overridden key by key", async () => {
  const text = `dest: [d]
agent:
  socket: /run/sshproxy-agent/agent.sock
  metrics: "[::1]:9000"
  timeout: 50ms
overrides:
  - match:
      - groups: [pilot]
    agent:
      timeout: 1s
      decision_timeout: 3s
  - match:
      - users: [bob]
    agent:
      socket: ""
`;
  const alice = (await effective(text, "alice", ["pilot"])).config;
  assert.deepEqual(alice.agent, {
    socket: "/run/sshproxy-agent/agent.sock",
    metrics: "[::1]:9000",
    timeout: 1_000_000_000n,
    decisionTimeout: 3_000_000_000n,
  });
  assert.ok(
    configListing(alice).includes(
      "config.agent = {Socket:/run/sshproxy-agent/agent.sock Metrics:[::1]:9000 Timeout:1s DecisionTimeout:3s}",
    ),
  );
  const bob = (await effective(text, "bob", [])).config;
  assert.equal(bob.agent.socket, "");
  assert.equal(bob.agent.timeout, 50_000_000n);
  assert.equal(bob.agent.decisionTimeout, 2_000_000_000n);
});

Deno.test("explicit non-loopback and disabled metrics addresses are accepted", async () => {
  for (const address of ["0.0.0.0:9649", "[::]:9649", "localhost:1", ""]) {
    const { config } = await effective(
      `agent:\n  metrics: ${JSON.stringify(address)}\n`,
      "alice",
      [],
    );
    assert.equal(config.agent.metrics, address);
  }
});

const refused: [string, string][] = [
  [
    "agent: {socket: run/agent.sock}",
    'line 1: agent.socket: "run/agent.sock" is not an absolute path',
  ],
  [
    'agent: {metrics: ":9649"}',
    'line 1: agent.metrics: ":9649" would listen on every interface (expected "0.0.0.0:9649" or "[::]:9649" to mean it, or "127.0.0.1:9649")',
  ],
  [
    "agent: {metrics: metrics.example.org:9649}",
    'line 1: agent.metrics: "metrics.example.org" is not an IP address',
  ],
  [
    "agent: {metrics: '::1:9649'}",
    'line 1: agent.metrics: "::1:9649" is not host:port',
  ],
  [
    "agent: {metrics: '127.0.0.1:70000'}",
    'line 1: agent.metrics: "127.0.0.1:70000" is not host:port',
  ],
  [
    "agent: {timeout: 0}",
    "line 1: agent.timeout: 0 is zero (expected a duration between 1ms and 10s",
  ],
  ["agent: {timeout: 1m}", "line 1: agent.timeout: 1m is longer than 10s"],
  [
    "agent: {decision_timeout: 0s}",
    "line 1: agent.decision_timeout: 0s is zero (expected a duration between 1ms and 10s",
  ],
  [
    "agent: {decision_timeout: 11s}",
    "line 1: agent.decision_timeout: 11s is longer than 10s",
  ],
  [
    "agent: {timeout: 200}",
    "line 1: agent.timeout: 200 is not a string",
  ],
  ["agent: [a]", "line 1: agent: a list is not a mapping"],
];

for (const [text, message] of refused) {
  Deno.test(`${text} is refused in one line`, () => {
    const parsed = parse(`${text}\n`);
    assert.ok(!parsed.ok, "accepted");
    assert.ok(
      parsed.error.startsWith(message),
      `${parsed.error}\n  does not start with\n${message}`,
    );
    assert.ok(!parsed.error.includes("\n"));
  });
}

Deno.test("an unknown agent key is a warning with a suggestion", () => {
  const parsed = parse("agent:\n  sockett: /run/a.sock\n");
  assert.ok(parsed.ok);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 2: unknown key "agent.sockett" ignored (did you mean "socket"?)',
  ]);
});
