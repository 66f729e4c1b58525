// Shared set-up for configuration tests: the reference fixtures and a
// fake resolver/port lookup (pure unit tests of the engine, no I/O).
import { parseServices, splitHostPort } from "../../src/config/host_port.ts";
import type { HostResolver } from "../../src/config/match.ts";
import {
  parseConfigTree,
  type ParsedConfig,
  resolveConfig,
  type Resolved,
} from "../../src/config/resolve.ts";
import { parseYamlTree } from "../../src/config/yaml_tree.ts";
import { fail, ok, type Result } from "../../src/result.ts";

/** Directory of the reference configuration fixtures (shared/ beside the checkout). */
export const FIXTURES = new URL(
  "../../../shared/fixtures/reference-config/",
  import.meta.url,
);

/** Reads one fixture's text. */
export function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

/** A services database with ssh and gopher, as in spec §3.7. */
export const lookupPort = parseServices("ssh 22/tcp\ngopher 70/tcp\n");

/** server1/server2 resolve to the same three addresses (spec §3.6). */
export const fakeResolver: HostResolver = (host) => {
  const table: Record<string, string[]> = {
    server1: ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
    server2: ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
    gateway1: ["127.0.0.1"],
    gateway2: ["127.0.0.2"],
  };
  const addresses = table[host];
  return Promise.resolve(addresses ? ok(addresses) : fail("no such host"));
};

/** Parses text with the fake system. */
export function parse(text: string): Result<ParsedConfig> {
  const tree = parseYamlTree(text);
  if (!tree.ok) return tree;
  return parseConfigTree(tree.value, { lookupPort });
}

/** Parses and resolves text for one identity; throws on errors (tests only). */
export async function effective(
  text: string,
  user: string,
  groups: string[],
  sshd?: string,
  sessionId = "abcd",
): Promise<Resolved> {
  const parsed = parse(text);
  if (!parsed.ok) throw new Error(parsed.error);
  let address;
  if (sshd !== undefined) {
    // As `sshproxyctl show config -source` does: host[:port], port 22 by
    // default, service names allowed, IPv6 in brackets.
    const split = splitHostPort(sshd, lookupPort);
    if (!split.ok) throw new Error(split.error);
    address = split.value;
  }
  const resolved = await resolveConfig(parsed.value, {
    user,
    groups: new Set(groups),
    sshd: address,
    sessionId,
    startTime: "2024-05-02T09:15:03.041527381+02:00",
  }, fakeResolver);
  if (!resolved.ok) throw new Error(resolved.error);
  return resolved.value;
}
