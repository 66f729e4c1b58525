// Name services the configuration engine needs: host names to addresses
// through the system resolver (getaddrinfo: /etc/hosts, DNS, NSS, as Go's
// resolver on a gateway), and TCP service names from /etc/services.
import {
  canonicalIp,
  parseServices,
  type PortLookup,
} from "../config/host_port.ts";
import { fail, ok, type Result } from "../result.ts";
import { filesComeFirst } from "./identity.ts";

// Go's net package falls back to these when /etc/services is missing.
const BUILT_IN_SERVICES =
  "ftp 21/tcp\nftps 990/tcp\ngopher 70/tcp\nhttp 80/tcp\nhttps 443/tcp\nimap2 143/tcp\n" +
  "imap3 220/tcp\nimaps 993/tcp\npop3 110/tcp\npop3s 995/tcp\nsmtp 25/tcp\nssh 22/tcp\ntelnet 23/tcp\n";

/**
 * A port lookup over /etc/services (falling back to Go's built-in list).
 * The file is read on the first service name looked up, not before: most
 * logins only meet numeric ports (or none) and never read it.
 */
export function loadServices(path = "/etc/services"): PortLookup {
  return (service) => {
    // A login may look up several names; read and parse the file once.
    let lookup = loaded.get(path);
    if (!lookup) {
      lookup = readServices(path);
      loaded.set(path, lookup);
    }
    return lookup(service);
  };
}

const loaded = new Map<string, PortLookup>();

function readServices(path: string): PortLookup {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    // missing or unreadable: the built-in list below still answers
  }
  const fromFile = parseServices(text);
  const builtIn = parseServices(BUILT_IN_SERVICES);
  return (service) => fromFile(service) ?? builtIn(service);
}

/** Resolves a host name to all its addresses, in canonical text form. */
export async function resolveHost(host: string): Promise<Result<string[]>> {
  const listed = hostsFileAddresses(host);
  if (listed !== undefined) return ok(listed);
  try {
    // Loaded only when a name must be resolved: node:dns starts Deno's
    // Node-compatibility layer, which a login without names in `sources`
    // does not pay for.
    const { lookup } = await import("node:dns/promises");
    const answers = await lookup(host, { all: true, verbatim: true });
    const addresses = answers.map((answer) =>
      canonicalIp(answer.address) ?? answer.address
    );
    return addresses.length > 0 ? ok(addresses) : fail("no such host");
  } catch (error) {
    const code = (error as { code?: string }).code;
    return fail(
      code === "ENOTFOUND"
        ? "no such host"
        : error instanceof Error
        ? error.message
        : String(error),
    );
  }
}

/** Where the files source of NSS reads host names. */
export interface HostFiles {
  nsswitch: string;
  hosts: string;
}

const SYSTEM_HOST_FILES: HostFiles = {
  nsswitch: "/etc/nsswitch.conf",
  hosts: "/etc/hosts",
};

/**
 * The addresses /etc/hosts lists for `host`, when nsswitch.conf consults
 * `files` first for hosts: every line naming it, compared without case, as
 * Go's resolver (the reference's) and glibc's (`multi on`) answer. The
 * system resolver, reached through Node's dns module, costs a login 17-24 ms
 * (measured: a `sources` entry naming localhost, against its address),
 * most of it Deno's Node-compatibility layer starting; a gateway's own
 * names are usually in this file. Undefined when NSS asks another source
 * first or the file does not name the host: the resolver decides then.
 */
export function hostsFileAddresses(
  host: string,
  paths: HostFiles = SYSTEM_HOST_FILES,
): string[] | undefined {
  let text: string;
  try {
    const nsswitch = Deno.readTextFileSync(paths.nsswitch);
    if (!filesComeFirst(nsswitch, "hosts")) return undefined;
    text = Deno.readTextFileSync(paths.hosts);
  } catch {
    return undefined;
  }
  const wanted = host.toLowerCase();
  const addresses: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.replace(/#.*/, "").trim().split(/\s+/);
    if (fields.length < 2) continue;
    if (!fields.slice(1).some((name) => name.toLowerCase() === wanted)) {
      continue;
    }
    // A line whose address is not one: resolvers skip it.
    const address = canonicalIp(fields[0]);
    if (address !== undefined && !addresses.includes(address)) {
      addresses.push(address);
    }
  }
  return addresses.length > 0 ? addresses : undefined;
}
