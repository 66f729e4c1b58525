// `sshproxyctl convert` keeps the meaning (issue 11): for every v1 file of
// the corpus, our v2 output and the reference's v2 output resolve to the
// same configuration listing for every user, group and source the files
// mention (and for someone they do not), and ours is a valid v2 file the
// engine reads without a single warning.
import assert from "node:assert/strict";
import { convertV1ToV2 } from "../../src/config/convert.ts";
import { type HostPort } from "../../src/config/host_port.ts";
import { configListing } from "../../src/config/listing.ts";
import { type ParsedConfig, resolveConfig } from "../../src/config/resolve.ts";
import { convertCases } from "./convert_corpus.ts";
import { fakeResolver, parse } from "./fixture_helpers.ts";

interface Identity {
  user: string;
  groups: string[];
  sshd?: HostPort;
}

// Everyone the files name, alone and together, from every source they
// name, plus an outsider from nowhere in particular.
function identities(files: ParsedConfig[]): Identity[] {
  const users = new Set(["outsider"]);
  const groups = new Set<string>();
  const sources = new Map<string, HostPort>();
  for (const file of files) {
    for (const override of file.overrides) {
      for (const item of override.match ?? []) {
        for (const list of item.users) list.forEach((u) => users.add(u));
        for (const list of item.groups) list.forEach((g) => groups.add(g));
        for (const list of item.sources) {
          for (const source of list) {
            sources.set(`${source.address.host}:${source.address.port}`, {
              ...source.address,
            });
          }
        }
      }
    }
  }
  const groupSets = [[], ...[...groups].map((g) => [g]), [...groups]];
  const addresses: (HostPort | undefined)[] = [
    undefined,
    { host: "192.0.2.99", port: 22 },
    ...sources.values(),
  ];
  const all: Identity[] = [];
  for (const user of users) {
    for (const groupSet of groupSets) {
      for (const sshd of addresses) all.push({ user, groups: groupSet, sshd });
    }
  }
  return all;
}

async function listing(
  file: ParsedConfig,
  identity: Identity,
): Promise<string[]> {
  const resolved = await resolveConfig(file, {
    ...identity,
    groups: new Set(identity.groups),
    sessionId: "abcd",
    startTime: "2024-05-02T09:15:03.041527381+02:00",
  }, fakeResolver);
  if (!resolved.ok) return [`error: ${resolved.error}`];
  return [...configListing(resolved.value.config), ...resolved.value.warnings];
}

for (const { name, v1, reference } of convertCases()) {
  Deno.test(`convert means what the reference's conversion means: ${name}`, async () => {
    const converted = convertV1ToV2(v1);
    assert.ok(converted.ok, converted.ok ? "" : converted.error);
    const ours = parse(converted.value);
    assert.ok(ours.ok, `not valid v2: ${ours.ok ? "" : ours.error}`);
    assert.deepEqual(ours.value.unknownKeys, [], "read without a warning");
    const theirs = parse(reference);
    assert.ok(theirs.ok, theirs.ok ? "" : theirs.error);
    const who = identities([ours.value, theirs.value]);
    for (const identity of who) {
      assert.deepEqual(
        await listing(ours.value, identity),
        await listing(theirs.value, identity),
        `${JSON.stringify(identity)}\n--- ours:\n${converted.value}`,
      );
    }
  });
}

Deno.test("the corpus mentions users, groups and sources (the comparison is not vacuous)", () => {
  const files = convertCases().map(({ reference }) => {
    const parsed = parse(reference);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.value;
  });
  const who = identities(files);
  assert.ok(who.some((identity) => identity.user === "alice"));
  assert.ok(who.some((identity) => identity.groups.includes("staff")));
  assert.ok(who.some((identity) => identity.sshd?.host === "192.168.1.2"));
});
