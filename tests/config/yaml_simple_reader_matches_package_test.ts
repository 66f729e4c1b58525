// The simple reader (src/config/yaml_simple.ts) is a fast path in front of
// the `yaml` package: whatever it reads, it must read exactly as the
// package does (same tree: keys, duplicates, tags, values, source texts,
// lines), and what it does not read is left to the package. Checked on
// every reference fixture, the sample configuration, the hostile files,
// and thousands of generated and mutated files.
import assert from "node:assert/strict";
import { readSimpleYaml } from "../../src/config/yaml_simple.ts";
import {
  parseYamlTree,
  parseYamlTreeWithPackage,
} from "../../src/config/yaml_tree.ts";
import { FIXTURES } from "./fixture_helpers.ts";
import { HOSTILE_CONFIGS } from "./hostile_configs.ts";

/** Compares both readers on `text`; true when the simple one read it. */
function agree(text: string, label: string): boolean {
  const simple = readSimpleYaml(text);
  if (simple === undefined) return false;
  const reference = parseYamlTreeWithPackage(text);
  assert.ok(
    reference.ok,
    `${label}: the simple reader read what the package refuses (${
      reference.ok ? "" : reference.error
    }):\n${text}`,
  );
  assert.deepEqual(simple, reference.value, `${label}:\n${text}`);
  return true;
}

Deno.test("every reference fixture and the sample configuration read the same either way", () => {
  let read = 0;
  let files = 0;
  for (const entry of Deno.readDirSync(FIXTURES)) {
    if (!entry.name.endsWith(".yaml")) continue;
    files++;
    const text = Deno.readTextFileSync(new URL(entry.name, FIXTURES));
    if (agree(text, entry.name)) read++;
  }
  // The shapes of the e2e and bench configurations: read simply.
  const typical = [
    'log: "/var/log/sshproxy/{user}.log"\nssh:\n  exe: /usr/bin/ssh\n  args: ["-q", "-Y", "-oStrictHostKeyChecking=no"]\ndest: ["127.0.0.1:2299"]\n',
    'dest: [a:22, b:22, "c:22"]\netcd:\n  endpoints: ["http://127.0.0.1:2379"]\n  keyttl: 5\nroute_select: connections\nmode: sticky\nagent:\n  socket: "/run/sshproxy/agent.sock"\n  timeout: 200ms\n',
    "debug: yes\noverrides:\n  - match:\n      - users: [alice, bob]\n      - groups: [admin]\n    dest: [admin1:22]\n    route_select: random\n  - match:\n    - sources: [192.168.0.0/16]\n    environment: {}\n",
    // Nodesets in quoted list items, and a document start marker (files
    // written by configuration management): each cost the package's
    // parse, ~9 ms per login, when they were left to it.
    '---\ndest: ["node[1-4]:22", \'visu[01-02]\']\noverrides:\n  - match:\n      - sources: ["192.0.2.[1-2]:2022"]\n    dest: ["admin[1-2]"]\n',
    "--- # the gateway's file\nlog: /var/log/sshproxy/{user}.log\n",
  ];
  for (const [index, text] of typical.entries()) {
    assert.ok(agree(text, `typical #${index}`), text);
  }
  assert.ok(files >= 20, `${files} fixtures`);
  // Most real files are simple: the fast path must not be a dead branch.
  assert.ok(read >= files / 2, `${read} of ${files} fixtures read simply`);
});

Deno.test("what the simple reader leaves to the package (anchors, tags, block scalars, multi-line values, escapes...)", () => {
  const left = [
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: one\n  two\n",
    'a: "x\\ty"\n',
    "a: {b: 1}\n",
    "a:\n",
    "a:\nb: 1\n",
    "- a\n- b\n",
    "a: 1\n---\nb: 2\n",
    "---\n---\na: 1\n",
    "--- a\n",
    "--- {a: 1}\n",
    "a: 1\n...\n",
    "a: [b[1], c]\n",
    "%YAML 1.1\n---\na: 1\n",
    "a:\tb\n",
    "a: 1\r\n",
    "? a\n: b\n",
    "<<: {a: 1}\n",
    "a: [b, [c]]\n",
    "a: 'one\n  two'\n",
    "a: b: c\n",
    "",
    "# only a comment\n",
    "  a: 1\n",
  ];
  for (const text of left) {
    assert.equal(readSimpleYaml(text), undefined, JSON.stringify(text));
    // The package still reads it as before, through parseYamlTree.
    assert.deepEqual(
      parseYamlTree(text),
      parseYamlTreeWithPackage(text),
      JSON.stringify(text),
    );
  }
});

Deno.test("hostile files get the same one-line errors as before", () => {
  for (const hostile of HOSTILE_CONFIGS) {
    const text = hostile.text();
    if (text.length > 2 * 1024 * 1024) continue; // refused on size first
    const simple = readSimpleYaml(text);
    if (simple !== undefined) {
      assert.deepEqual(
        { ok: true, value: simple },
        parseYamlTreeWithPackage(text),
      );
    }
  }
});

Deno.test("plain scalars of every YAML 1.1 kind resolve as the package resolves them", () => {
  const scalars = [
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "nul",
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "yEs",
    "true",
    "True",
    "TRUE",
    "tRue",
    "on",
    "On",
    "ON",
    "oN",
    "n",
    "N",
    "no",
    "No",
    "NO",
    "false",
    "False",
    "FALSE",
    "off",
    "Off",
    "OFF",
    "offf",
    "0",
    "00",
    "07",
    "08",
    "09",
    "0777",
    "0_7",
    "0_",
    "-0",
    "+0",
    "-017",
    "1",
    "-1",
    "+1",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "0b101",
    "-0b1",
    "+0b1_0",
    "0b_",
    "0B1",
    "0x1F",
    "-0x1f",
    "0x_1",
    "0x",
    "0X1F",
    "0o17",
    "-0o17",
    "0o_",
    "0O17",
    "1.5",
    "-.5",
    "+.5",
    ".5",
    "5.",
    ".",
    "-.",
    "1.0",
    "1.50",
    "1e3",
    "1E3",
    "1e+3",
    "1.5e-3",
    "-1e3",
    ".5e1",
    "1e",
    "e1",
    "1_0.5_0",
    ".inf",
    ".Inf",
    ".INF",
    "-.inf",
    "+.INF",
    ".iNf",
    ".nan",
    ".NaN",
    ".NAN",
    "NaN",
    "nan",
    "inf",
    "Infinity",
    "2024-01-01",
    "2024-1-1",
    "2024-01-01T10:00:00Z",
    "2024-01-01t10:00:00",
    "2024-01-01 10:00:00",
    "2024-01-01x",
    "1234-",
    "12:30",
    "1:2:3",
    "190:20:30",
    "1.0.0",
    "127.0.0.1:2299",
    "a1",
    "1a",
    "0xZZ",
    "+",
    "-x",
    "+x",
    ".x",
    "sticky",
    "connections",
    "/var/log/{user}.log",
    "<<",
    "=",
  ];
  let read = 0;
  for (const scalar of scalars) {
    if (agree(`a: ${scalar}\nb: [${scalar}]\n`, JSON.stringify(scalar))) {
      read++;
    }
  }
  assert.ok(read > scalars.length * 0.8, `${read} of ${scalars.length}`);
});

Deno.test("one-line lists of 100,000 items, plain and quoted, read as the package reads them", () => {
  // Each item is read where it stands: looking at the rest of the line for
  // every item made such a file take 22 s (the package: 0.6 s).
  for (const item of ["a", "'a'", '"a"']) {
    const text = `dest: [${Array(100_000).fill(item).join(", ")}]\n`;
    assert.ok(agree(text, `a list of ${item}`), item);
  }
});

// A small deterministic generator (xorshift): the same files at every run.
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

const SCALARS = [
  "x",
  "server1:22",
  "http://127.0.0.1:2379",
  "yes",
  "No",
  "on",
  "OFF",
  "y",
  "~",
  "null",
  "Null",
  "true",
  "False",
  "0",
  "-1",
  "+7",
  "0777",
  "0o17",
  "0x1F",
  "0b101",
  "1_000",
  "1e3",
  "1.5",
  "-.5",
  ".inf",
  "-.Inf",
  ".NaN",
  "12:30",
  "190:20:30",
  "2024-01-01",
  "2024-01-01T10:00:00Z",
  "1.0.0",
  "a b",
  "a#b",
  "-x",
  "?x",
  ":x",
  "{user}",
  "/var/log/sshproxy/{user}.log",
  "%t",
  "@x",
  "!x",
  "*x",
  "&x",
  "'single'",
  "'it''s'",
  '"double"',
  '"with: colon"',
  '"a # b"',
  "''",
  '""',
  "日本",
  "1:2",
  "<<",
  "=",
  "-",
  "a,b",
  "[]",
  "{}",
  "[a, b]",
  "[a, 'b', \"c\",]",
  "[ ]",
  "[a,,b]",
  "[x: y]",
  "[\"n[1-2]\", 'x]']",
  "['a,b]', c]",
  '[it\'s, "q]"]',
  '["a", b]c',
];

const KEYS = [
  "dest",
  "log",
  "debug",
  "route_select",
  "mode",
  "ssh",
  "args",
  "etcd",
  "endpoints",
  "match",
  "- src",
  "users",
  "service",
  "a b",
  "'quoted key'",
  '"dq key"',
  "k:v",
  "1",
  "yes",
  "~",
];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)];
}

function generate(next: () => number, depth: number, indent: number): string[] {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  const count = 1 + Math.floor(next() * 4);
  const sequence = depth > 0 && next() < 0.3;
  for (let i = 0; i < count; i++) {
    const comment = next() < 0.15 ? "  # note" : "";
    if (next() < 0.1) lines.push(next() < 0.5 ? "" : `${pad}# comment`);
    const key = pick(next, KEYS).replace(/^- /, "");
    const nested = depth < 3 && next() < 0.35;
    if (sequence) {
      if (nested && next() < 0.5) {
        // - key: value, then the item's other keys at its column
        const inner = generate(next, depth + 1, indent + 2);
        if (inner.length > 0 && !inner[0].startsWith(" ".repeat(indent + 3))) {
          lines.push(`${pad}- ${inner[0].trimStart()}`);
          lines.push(...inner.slice(1));
          continue;
        }
      }
      lines.push(`${pad}- ${pick(next, SCALARS)}${comment}`);
      continue;
    }
    if (nested) {
      lines.push(`${pad}${key}:${comment}`);
      const compact = next() < 0.2;
      lines.push(...generate(next, depth + 1, compact ? indent : indent + 2));
      continue;
    }
    lines.push(`${pad}${key}: ${pick(next, SCALARS)}${comment}`);
  }
  return lines;
}

Deno.test("thousands of generated files: the simple reader agrees with the package on all it reads", () => {
  const next = random(20261206);
  let read = 0;
  const total = 3000;
  for (let i = 0; i < total; i++) {
    const text = generate(next, 0, 0).join("\n") + "\n";
    if (agree(text, `generated #${i}`)) read++;
  }
  assert.ok(read > total / 6, `${read} of ${total} read simply`);
});

Deno.test("mutated files (a character inserted, deleted or doubled): still the same tree or left to the package", () => {
  const next = random(4242);
  const noise = [" ", ":", "#", "-", "'", '"', ",", "[", "]", "\n", "  ", "x"];
  let read = 0;
  const total = 4000;
  for (let i = 0; i < total; i++) {
    let text = generate(next, 0, 0).join("\n") + "\n";
    for (let edits = 1 + Math.floor(next() * 2); edits > 0; edits--) {
      const at = Math.floor(next() * text.length);
      const kind = next();
      if (kind < 0.5) {
        text = text.slice(0, at) + pick(next, noise) + text.slice(at);
      } else if (kind < 0.8) text = text.slice(0, at) + text.slice(at + 1);
      else text = text.slice(0, at) + text[at] + text.slice(at);
    }
    if (agree(text, `mutated #${i}`)) read++;
  }
  assert.ok(read > total / 10, `${read} of ${total} read simply`);
});
