// `match` items of overrides (spec §3.4, §3.6). Three departures from the
// reference, all towards what its documentation promises (README,
// "Differences"): a key written twice in one item is an AND (the reference
// keeps the last); an unknown key is an error (the reference lets it match
// everyone); keys are evaluated in a fixed order, cheap ones first, so a
// DNS lookup happens only when users and groups already matched.
import type { GroupResolver } from "../nodeset/clustershell.ts";
import { expandNodeset } from "../nodeset/expand.ts";
import { fail, ok, type Result } from "../result.ts";
import { ipLiteralFamily } from "../net/ip_address.ts";
import {
  canonicalIp,
  type HostPort,
  type PortLookup,
  splitHostPort,
} from "./host_port.ts";
import { describe, problem, quoted, readStringList } from "./settings.ts";
import { clip, type MappingNode, type TreeNode } from "./yaml_document.ts";

/** One `sources` entry, already split into host and port. */
export interface SourceCondition {
  text: string;
  address: HostPort;
}

/** One match item: every listed condition must hold (AND); each list is an OR. */
export interface MatchItem {
  line: number;
  users: string[][];
  groups: string[][];
  sources: SourceCondition[][];
}

/** Who is connecting, as the matcher needs it. */
export interface Identity {
  user: string;
  groups: ReadonlySet<string>;
  /** The sshd listening address, or undefined for `sshproxyctl` without `-source`. */
  sshd?: HostPort;
}

/** Resolves a host name to all its addresses (A and AAAA), canonical text. */
export type HostResolver = (host: string) => Promise<Result<string[]>>;

const ITEM_KEYS = ["users", "groups", "sources"];

/**
 * How many names a file's nodesets may still expand to: every `sources`
 * and `dest` of a file is expanded when it is read, so the file as a whole
 * gets one budget (see resolve.ts).
 */
export interface NameBudget {
  namesLeft: number;
  /** The budget of a whole file, for messages. */
  readonly total: number;
}

/** The one-line problem of a nodeset that goes past the file's budget. */
export function overBudget(budget: NameBudget): string {
  return `the file's nodesets expand to more than ${budget.total} names`;
}

/** Parses one `match` list; errors carry the line. */
export function parseMatchList(
  node: TreeNode,
  lookupPort: PortLookup,
  groupResolver: GroupResolver | undefined,
  budget: NameBudget = { namesLeft: 1_000_000, total: 1_000_000 },
): Result<MatchItem[]> {
  if (node.kind !== "sequence") {
    return fail(
      problem(
        node.line,
        "match",
        `${describe(node)} is not a list`,
        "a list of items such as `- users: [alice]`",
      ),
    );
  }
  const items: MatchItem[] = [];
  for (const itemNode of node.items) {
    if (itemNode.kind !== "mapping") {
      return fail(
        problem(
          itemNode.line,
          "match",
          `item ${describe(itemNode)} is not a mapping`,
          "`users:`, `groups:` or `sources:` lists",
        ),
      );
    }
    const item = parseItem(itemNode, lookupPort, groupResolver, budget);
    if (!item.ok) return item;
    items.push(item.value);
  }
  return ok(items);
}

function parseItem(
  node: MappingNode,
  lookupPort: PortLookup,
  groupResolver: GroupResolver | undefined,
  budget: NameBudget,
): Result<MatchItem> {
  const item: MatchItem = {
    line: node.line,
    users: [],
    groups: [],
    sources: [],
  };
  if (node.entries.length === 0) {
    return fail(
      problem(
        node.line,
        "match",
        "empty match item would match everyone",
        "`users:`, `groups:` or `sources:`",
      ),
    );
  }
  // A key written twice is an AND (see the header); a key brought in by a
  // `<<` merge, or written after one, replaces what came before, as go-yaml
  // v2 does for every key (it merges in place, decode.go `merge`).
  const fromMerge = new Set<string>();
  for (const entry of node.entries) {
    const key = `match.${entry.key}`;
    if (!ITEM_KEYS.includes(entry.key)) {
      return fail(
        problem(
          entry.line,
          clip(key),
          `unknown match condition ${quoted(entry.key)}`,
          "users, groups or sources",
        ),
      );
    }
    const list = readStringList(entry.value, key);
    if (!list.ok) return list;
    const name = entry.key as "users" | "groups" | "sources";
    if (entry.merged || fromMerge.has(name)) item[name] = [];
    if (entry.merged) fromMerge.add(name);
    else fromMerge.delete(name);
    if (name === "users") item.users.push(list.value);
    else if (name === "groups") item.groups.push(list.value);
    else {
      const sources = parseSources(
        list.value,
        entry.line,
        lookupPort,
        groupResolver,
        budget,
      );
      if (!sources.ok) return sources;
      item.sources.push(sources.value);
    }
  }
  return ok(item);
}

function parseSources(
  list: string[],
  line: number,
  lookupPort: PortLookup,
  groupResolver: GroupResolver | undefined,
  budget: NameBudget,
): Result<SourceCondition[]> {
  const expanded = expandNodeset(
    list.join(","),
    groupResolver,
    budget.namesLeft,
  );
  if (tooLarge(expanded)) {
    return fail(
      problem(line, "match.sources", overBudget(budget), "smaller ranges"),
    );
  }
  if (expanded.ok) budget.namesLeft -= expanded.value.length;
  if (!expanded.ok) {
    return fail(
      problem(
        line,
        "match.sources",
        `invalid nodeset for sources match: ${clip(expanded.error, 200)}`,
        "host[:port] entries or nodesets",
      ),
    );
  }
  const sources: SourceCondition[] = [];
  for (const text of expanded.value) {
    // A bare IPv6 literal (`::1`, `::ffff:10.0.0.1`) is an address on the
    // default port; Go's splitter would call it "too many colons".
    const address = ipLiteralFamily(text) === 6
      ? ok({ host: text, port: 22 })
      : splitHostPort(text, lookupPort);
    if (!address.ok) {
      return fail(
        problem(
          line,
          "match.sources",
          `source: invalid address: ${clip(address.error)}`,
          "host[:port] with a numeric port or a service name",
        ),
      );
    }
    sources.push({ text, address: address.value });
  }
  return ok(sources);
}

/** Whether a nodeset error is the "too many names" one. */
export function tooLarge(result: Result<unknown>): boolean {
  return !result.ok && result.error.startsWith("nodeset too large");
}

/** Outcome of evaluating an item: whether it matched, plus warnings (e.g. DNS failures). */
export interface MatchOutcome {
  matched: boolean;
  warnings: string[];
}

/** Evaluates one item for an identity: users, then groups, then sources. */
export async function itemMatches(
  item: MatchItem,
  identity: Identity,
  resolveHost: HostResolver,
): Promise<MatchOutcome> {
  const warnings: string[] = [];
  for (const users of item.users) {
    if (!users.includes(identity.user)) return { matched: false, warnings };
  }
  for (const groups of item.groups) {
    if (!groups.some((group) => identity.groups.has(group))) {
      return { matched: false, warnings };
    }
  }
  for (const sources of item.sources) {
    if (
      !(await anySourceMatches(sources, identity.sshd, resolveHost, warnings))
    ) {
      return { matched: false, warnings };
    }
  }
  return { matched: true, warnings };
}

async function addressesOf(
  host: string,
  resolveHost: HostResolver,
  cache: Map<string, Promise<Result<string[]>>>,
): Promise<Result<string[]>> {
  const literal = canonicalIp(host);
  if (literal !== undefined) return ok([literal]);
  let pending = cache.get(host);
  if (!pending) {
    pending = resolveHost(host);
    cache.set(host, pending);
  }
  return await pending;
}

async function anySourceMatches(
  sources: SourceCondition[],
  sshd: HostPort | undefined,
  resolveHost: HostResolver,
  warnings: string[],
): Promise<boolean> {
  if (!sshd) return false;
  const cache = new Map<string, Promise<Result<string[]>>>();
  const sshdAddresses = await addressesOf(sshd.host, resolveHost, cache);
  if (!sshdAddresses.ok) {
    warnings.push(
      `sshdHostPort: cannot resolve host '${sshd.host}': ${sshdAddresses.error}`,
    );
    return false;
  }
  for (const source of sources) {
    if (source.address.port !== sshd.port) continue;
    const addresses = await addressesOf(
      source.address.host,
      resolveHost,
      cache,
    );
    if (!addresses.ok) {
      // The reference fails the whole load (every login refused) when one
      // name does not resolve; here that source simply does not match.
      warnings.push(
        `source: cannot resolve host '${source.address.host}': ${addresses.error}`,
      );
      continue;
    }
    if (
      addresses.value.some((address) => sshdAddresses.value.includes(address))
    ) return true;
  }
  return false;
}
