// `sshproxyctl convert` writes a file an admin can read and keep editing:
// the v2 key order, lists of names in brackets, block mappings, no YAML
// anchors or tags, and every string reads back unchanged, whatever its
// characters (quoted where go-yaml v2 would read a number, a boolean or
// null, so reference gateways read the same file alike).
import assert from "node:assert/strict";
// @ts-types="yaml"
import { parse as parseYaml } from "yaml/esm";
import { convertV1ToV2 } from "../../src/config/convert.ts";
import { parseSettings, SETTINGS_KEYS } from "../../src/config/settings.ts";
import { lastEntry, parseYamlTree } from "../../src/config/yaml_tree.ts";
import { convertCases } from "./convert_corpus.ts";

function converted(v1: string): string {
  const result = convertV1ToV2(v1);
  if (!result.ok) throw new Error(`unexpected error: ${result.error}`);
  return result.value;
}

const SPEC_EXAMPLE = convertCases()[0].v1;

Deno.test("the spec's example reads like a hand-written v2 file", () => {
  const text = converted(SPEC_EXAMPLE);
  assert.ok(text.startsWith("---\n"));
  // Lists of names in brackets, match items on one line each.
  assert.match(text, /^dest: \[n1, n2\]$/m);
  assert.match(text, /^ {6}- groups: \[ops, admins\]$/m);
  assert.match(text, /^ {8}sources: \[10\.0\.0\.6\]$/m);
  assert.match(text, /^ {6}- users: \[carol\]$/m);
  assert.doesNotMatch(text, /\t/);
  assert.ok(text.split("\n").length < 30, "about as long as the v1 file");
});

Deno.test("keys come in the v2 order, match first in an override", () => {
  const order = [...SETTINGS_KEYS, "overrides"];
  for (const { name, v1 } of convertCases()) {
    const v2 = parseYaml(converted(v1), { version: "1.1" }) ?? {};
    const inOrder = (keys: string[]) =>
      keys.every((key, i) =>
        i === 0 || order.indexOf(keys[i - 1]) < order.indexOf(key)
      );
    assert.ok(inOrder(Object.keys(v2)), `${name}: ${Object.keys(v2)}`);
    for (const override of v2.overrides ?? []) {
      const keys = Object.keys(override);
      assert.equal(keys[0], "match", name);
      assert.ok(inOrder(keys.slice(1)), `${name}: ${keys}`);
    }
  }
});

Deno.test("no anchors, aliases or tags, even for names used twice", () => {
  for (const { name, v1 } of convertCases()) {
    const text = converted(v1);
    assert.doesNotMatch(text, /(^|[\s[,])[&*!][\w!]/m, name);
  }
});

Deno.test("strings go-yaml would read as something else are quoted", () => {
  const words = [
    "yes",
    "Off",
    "y",
    "~",
    "null",
    "",
    "123",
    "010",
    "0o17",
    "0x1F",
    "1_000",
    "1e3",
    ".5",
    ".inf",
    "2001-01-01",
  ];
  const v1 = "users:\n- alice:\n    environment:\n" +
    words.map((word, i) => `      V${i}: ${JSON.stringify(word)}\n`).join("");
  const text = converted(v1);
  words.forEach((word, i) => {
    assert.ok(text.includes(`V${i}: "${word}"\n`), `${word}:\n${text}`);
  });
});

Deno.test("random strings read back unchanged", () => {
  // Seeded generator over characters that stress quoting, escaping,
  // folding and wrapping (CR, NEL, LS, PS left out: YAML 1.1 and 1.2
  // disagree on them as line breaks).
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pieces = [
    "a",
    " ",
    " ",
    ":",
    "#",
    "'",
    '"',
    "\\",
    "\n",
    "\t",
    "-",
    "?",
    ",",
    "[",
    "}",
    "é",
    "😀",
    "0",
    ".",
    "~",
    "&",
    "!",
    "|",
    "%",
    "`",
    "yes",
    "null",
    "\u00a0",
    "\u0001",
    "\ufeff",
    "1:20",
    "2001-01-01",
    "<<",
    "0x1",
    "---",
  ];
  const randomString = () => {
    let s = random() < 0.1 ? "word ".repeat(30) : "";
    const n = Math.floor(random() * 25);
    for (let i = 0; i < n; i++) {
      s += pieces[Math.floor(random() * pieces.length)];
    }
    return random() < 0.05 ? " " + s + "\n\n" : s;
  };
  for (let iteration = 0; iteration < 300; iteration++) {
    const dest = Array.from(
      { length: 1 + Math.floor(random() * 6) },
      randomString,
    );
    const environment: Record<string, string> = {};
    for (let i = 0; i < 3; i++) environment[`K${i}`] = randomString();
    const banner = "B" + randomString();
    const v1 = JSON.stringify({
      error_banner: banner,
      environment,
      routes: { default: { dest }, r1: { source: dest } },
    });
    const text = converted(v1);
    const tree = parseYamlTree(text);
    assert.ok(tree.ok, tree.ok ? "" : tree.error);
    assert.equal(tree.value.root.kind, "mapping");
    if (tree.value.root.kind !== "mapping") continue;
    const settings = parseSettings(tree.value.root, ["overrides"]);
    assert.ok(settings.ok, settings.ok ? "" : settings.error);
    assert.equal(settings.value.patch.errorBanner, banner);
    assert.deepEqual(
      Object.fromEntries(settings.value.patch.environment ?? []),
      environment,
    );
    assert.deepEqual(settings.value.patch.dest, dest);
    // The override's match item: `sources` as written.
    const overrides = lastEntry(tree.value.root, "overrides")!.value;
    assert.equal(overrides.kind, "sequence");
    if (overrides.kind !== "sequence") continue;
    const override = overrides.items[0];
    assert.equal(override.kind, "mapping");
    if (override.kind !== "mapping") continue;
    const match = lastEntry(override, "match")!.value;
    assert.ok(match.kind === "sequence" && match.items[0].kind === "mapping");
    const sources = lastEntry(match.items[0], "sources")!.value;
    assert.ok(sources.kind === "sequence");
    assert.deepEqual(
      sources.items.map((item) => item.kind === "scalar" ? item.text : item),
      dest,
    );
  }
});

Deno.test("an empty v1 file converts to an empty mapping", () => {
  for (const empty of ["", "---\n", "# only a comment\n", "~\n"]) {
    assert.equal(converted(empty), "---\n{}\n");
  }
});

Deno.test("non-default routes and several names of one element come sorted (reference: random)", () => {
  const v1 = `routes:
  zeta: {source: [10.0.0.3], dest: [z]}
  alpha: {source: [10.0.0.1], dest: [a]}
  default: {dest: [d]}
  mid: {source: [10.0.0.2], dest: [m]}
groups:
  - b: {log: b}
    a: {log: a}
`;
  const v2 = parseYaml(converted(v1), { version: "1.1" });
  assert.deepEqual(
    v2.overrides.map((o: { service?: string; log?: string }) =>
      o.service ?? o.log
    ),
    ["alpha", "mid", "zeta", "a", "b"],
  );
});

Deno.test("names that are JavaScript object properties are kept", () => {
  const text = converted(
    "translate_commands: {__proto__: {command: x}, constructor: {command: y}}\nenvironment: {__proto__: p}\n",
  );
  const v2 = parseYaml(text, { version: "1.1" });
  assert.deepEqual(Object.keys(v2.translate_commands), [
    "__proto__",
    "constructor",
  ]);
  assert.deepEqual(Object.keys(v2.environment), ["__proto__"]);
});
