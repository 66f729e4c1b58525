// `sources` conditions against the sshd address (spec §3.6): every row of
// the reference's table, its two error rows (now load-time errors with a
// line), plus what we add: IPv6 sources, canonical literal IPs, service
// names as ports, and unresolvable names that simply do not match.
import assert from "node:assert/strict";
import { parseMatchList } from "../../src/config/match.ts";
import { parseYamlTree } from "../../src/config/yaml_tree.ts";
import { effective, lookupPort, parse } from "./fixture_helpers.ts";

function withSource(source: string): string {
  return [
    "service: unmatched",
    "overrides:",
    "  - match:",
    `      - sources: [${JSON.stringify(source)}]`,
    "    service: matched",
    "",
  ].join("\n");
}

async function sourceMatches(source: string, sshd: string): Promise<boolean> {
  const { config } = await effective(withSource(source), "alice", [], sshd);
  return config.service === "matched";
}

// [source, sshd address, match] — spec §3.6, in the spec's order
const table: [string, string, boolean][] = [
  ["127.0.0.1", "127.0.0.1:22", true],
  ["127.0.0.1:22", "127.0.0.1:22", true],
  ["127.0.0.1:22", "127.0.0.1", true],
  ["127.0.0.1:123", "127.0.0.1:123", true],
  ["server1", "1.1.1.1:22", true],
  ["server1:22", "1.1.1.1:22", true],
  ["server1:123", "1.1.1.1:123", true],
  ["server1", "2.2.2.2:22", true],
  ["1.1.1.1", "server1", true],
  ["server1", "server2", true],
  ["127.0.0.1:22", "127.0.0.1:122", false],
  ["127.0.0.1:22", "127.0.0.2:22", false],
];

for (const [source, sshd, expected] of table) {
  Deno.test(`source ${source} ${expected ? "matches" : "does not match"} sshd ${sshd} (spec §3.6)`, async () => {
    assert.equal(await sourceMatches(source, sshd), expected);
  });
}

// The reference's error rows fail the load; here they fail at parse time,
// whoever logs in, with the line of the `sources` key.
const errors: [string, string][] = [
  [
    "host:port:invalid",
    "source: invalid address: address host:port:invalid: too many colons in address",
  ],
  ["host:port", "source: invalid address: address host:port: invalid port"],
  [
    "127.0.0.1:abcd",
    "source: invalid address: address 127.0.0.1:abcd: invalid port",
  ],
  ["127.0.0.1:65536", "address 127.0.0.1:65536: invalid port"],
  [
    "127.0.0.[1-",
    "invalid nodeset for sources match: unbalanced '[' found while parsing 127.0.0.[1- - nodeset parse error",
  ],
];

for (const [source, message] of errors) {
  Deno.test(`source ${source} is refused when the file is loaded, with its line`, () => {
    const parsed = parse(withSource(source));
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.ok(
      parsed.error.startsWith("line 4: match.sources: "),
      parsed.error,
    );
    assert.ok(parsed.error.includes(message), parsed.error);
    assert.ok(!parsed.error.includes("\n"));
  });
}

// [source, sshd address, match] — our additions
const additions: [string, string, boolean, string][] = [
  ["[::1]:2222", "[::1]:2222", true, "bracketed IPv6 source with a port"],
  ["[::1]", "[::1]:22", true, "bracketed IPv6 source, default port"],
  ["[::1]:2222", "[::1]:22", false, "IPv6, ports differ"],
  ["[::1]:2222", "127.0.0.1:2222", false, "IPv6 source, IPv4 sshd"],
  ["::1", "[::1]:22", true, "bare IPv6 literal, default port"],
  ["0:0::1", "[::1]:22", true, "non-canonical IPv6 is canonicalised"],
  ["[0:0:0:0:0:0:0:1]:2222", "[::1]:2222", true, "full IPv6 form"],
  ["[FE80::1]:22", "[fe80::1]:22", true, "IPv6 case is ignored"],
  ["::ffff:10.0.0.1", "10.0.0.1:22", true, "IPv4-mapped IPv6 is IPv4"],
  ["[::ffff:127.0.0.1]:2022", "127.0.0.1:2022", true, "bracketed mapped"],
  ["[fe80::1%eth0]:22", "[fe80::1%eth0]:22", true, "link-local with zone"],
  ["fe80:0::1%eth0", "[fe80::1%eth0]:22", true, "zoned, canonicalised"],
  ["[fe80::1%eth1]:22", "[fe80::1%eth0]:22", false, "zones differ"],
  ["gateway1:ssh", "127.0.0.1:22", true, "port given as a service name"],
  ["127.0.0.1:ssh", "127.0.0.1", true, "service name vs default port"],
  ["gateway1:gopher", "127.0.0.1:70", true, "another service name"],
  ["gateway1:ssh", "127.0.0.1:2022", false, "service name, other port"],
  ["gateway1:022", "127.0.0.1:22", true, "ports compare as numbers"],
  ["127.0.0.[1-3]:2022", "127.0.0.2:2022", true, "nodeset of sources"],
  ["127.0.0.[1-3]:2022", "127.0.0.4:2022", false, "outside the nodeset"],
  ["gateway1:2022", "gateway1:2022", true, "names on both sides"],
  ["gateway2:2022", "gateway1:2022", false, "names resolving apart"],
];

for (const [source, sshd, expected, why] of additions) {
  Deno.test(`source ${source} ${expected ? "matches" : "does not match"} sshd ${sshd} (${why})`, async () => {
    assert.equal(await sourceMatches(source, sshd), expected);
  });
}

Deno.test("one matching entry of a sources list is enough (OR), and lists are joined as one nodeset", async () => {
  const text = [
    "overrides:",
    "  - match:",
    '      - sources: ["gateway2:2022", "127.0.0.[5-6]:2022", "gateway1:2022"]',
    "    service: matched",
  ].join("\n");
  const { config } = await effective(text, "alice", [], "127.0.0.1:2022");
  assert.equal(config.service, "matched");
  const other = await effective(text, "alice", [], "127.0.0.6:2022");
  assert.equal(other.config.service, "matched");
});

Deno.test("an unresolvable source does not match, warns, and does not hide other entries", async () => {
  const text = [
    "overrides:",
    "  - match:",
    '      - sources: ["nosuchhost:2022", "gateway1:2022"]',
    "    service: matched",
  ].join("\n");
  const hit = await effective(text, "alice", [], "127.0.0.1:2022");
  assert.equal(hit.config.service, "matched");
  const miss = await effective(text, "alice", [], "127.0.0.9:2022");
  assert.equal(miss.config.service, "default");
  assert.deepEqual(miss.warnings, [
    "source: cannot resolve host 'nosuchhost': no such host",
  ]);
});

Deno.test("a source whose port differs is not even resolved", async () => {
  const text = withSource("nosuchhost:2022");
  const { config, warnings } = await effective(
    text,
    "alice",
    [],
    "127.0.0.1:22",
  );
  assert.equal(config.service, "unmatched");
  assert.deepEqual(warnings, []);
});

Deno.test("an unresolvable sshd name does not match and warns", async () => {
  const { config, warnings } = await effective(
    withSource("127.0.0.1"),
    "alice",
    [],
    "nosuchhost",
  );
  assert.equal(config.service, "unmatched");
  assert.deepEqual(warnings, [
    "sshdHostPort: cannot resolve host 'nosuchhost': no such host",
  ]);
});

Deno.test("without an sshd address (sshproxyctl without -source) sources never match", async () => {
  for (const source of ["127.0.0.1", "gateway1", "[::1]", "server1"]) {
    const { config, warnings } = await effective(
      withSource(source),
      "alice",
      [],
    );
    assert.equal(config.service, "unmatched", source);
    assert.deepEqual(warnings, []);
  }
});

Deno.test("sources: [] never matches", async () => {
  const text = "overrides:\n  - match:\n      - sources: []\n    service: x\n";
  const { config } = await effective(text, "alice", [], "127.0.0.1:22");
  assert.equal(config.service, "default");
});

Deno.test("DNS is asked only when users and groups of the item already matched", async () => {
  const text = [
    "overrides:",
    "  - match:",
    "      - users: [bob]",
    '        sources: ["nosuchhost"]',
    "    service: x",
  ].join("\n");
  const { warnings } = await effective(text, "alice", [], "127.0.0.1:22");
  assert.deepEqual(warnings, []);
  const bob = await effective(text, "bob", [], "127.0.0.1:22");
  assert.equal(bob.warnings.length, 1);
});

Deno.test("parsed sources keep their text and split address", () => {
  const tree = parseYamlTree(
    'match:\n  - sources: ["gateway1:ssh", "[::1]:2222", "::ffff:10.0.0.1"]\n',
  );
  assert.ok(tree.ok && tree.value.root.kind === "mapping");
  const items = parseMatchList(
    tree.value.root.entries[0].value,
    lookupPort,
    undefined,
  );
  assert.ok(items.ok, items.ok ? "" : items.error);
  assert.deepEqual(items.value[0].sources, [[
    { text: "gateway1:ssh", address: { host: "gateway1", port: 22 } },
    { text: "[::1]:2222", address: { host: "::1", port: 2222 } },
    { text: "::ffff:10.0.0.1", address: { host: "::ffff:10.0.0.1", port: 22 } },
  ]]);
});
