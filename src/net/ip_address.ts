// IP address parsing and printing with Go's rules (net.ParseIP, IP.String).
// The canonical text of the client address feeds the SID and etcd keys that
// reference gateways compute too, so "which strings are IPs" and "how an IP
// is printed" must match Go, not Node: node:net accepts and prints
// differently (e.g. it keeps IPv4-mapped IPv6 as `::ffff:...`).

/** An IP address as Go keeps it: 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

/** Parses an IP address like Go's net.ParseIP; `undefined` when it is not one. */
export function parseIp(text: string): IpBytes | undefined {
  // Go dispatches on the first '.', ':' or '%' (netip.ParseAddr); a zone
  // ('%') is never accepted by net.ParseIP.
  for (const char of text) {
    if (char === ".") return parseIpv4(text);
    if (char === ":") return parseIpv6(text);
    if (char === "%") return undefined;
  }
  return undefined;
}

/**
 * Which IP literal the text is: 4, 6 or 0 (neither), with node:net's isIP
 * rules, which the configuration engine has always used to tell an address
 * from a name. They are Go's (parseIp) except that an IPv6 literal may carry
 * a zone (`fe80::1%eth0`: `%` and at least one of `[0-9A-Za-z.:-]`), as sshd
 * reports link-local clients. Our own code, so the session path does not
 * start Deno's Node-compatibility layer for it.
 */
export function ipLiteralFamily(text: string): 0 | 4 | 6 {
  const percent = text.indexOf("%");
  if (percent >= 0) {
    return /^%[0-9A-Za-z.:-]+$/.test(text.slice(percent)) &&
        ipv6Bytes(text.slice(0, percent)) !== undefined
      ? 6
      : 0;
  }
  if (parseIpv4(text) !== undefined) return 4;
  return ipv6Bytes(text) !== undefined ? 6 : 0;
}

/** The 16 bytes of a zone-less IPv6 literal (also `::ffff:1.2.3.4`), or undefined (IPv4 text included). */
export function ipv6Bytes(text: string): IpBytes | undefined {
  // Go's dispatch (parseIp): the first '.' or ':' decides the family.
  const firstDot = text.indexOf(".");
  const firstColon = text.indexOf(":");
  if (firstColon < 0 || (firstDot >= 0 && firstDot < firstColon)) {
    return undefined;
  }
  return parseIpv6(text);
}

/** Prints an IP like Go's IP.String: dotted IPv4 (also for IPv4-mapped IPv6), else RFC 5952 IPv6. */
export function formatIp(ip: IpBytes): string {
  const v4 = asIpv4(ip);
  if (v4 !== undefined) return v4.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8) | ip[i + 1]);
  // Longest run of zero groups, the leftmost on a tie; a single zero group
  // is never compressed (RFC 5952 §4.2.2, Go does the same).
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestLength < 2) return groups.map(hex).join(":");
  const head = groups.slice(0, bestStart).map(hex).join(":");
  const tail = groups.slice(bestStart + bestLength).map(hex).join(":");
  return `${head}::${tail}`;
}

/** Joins a host and a port like Go's net.JoinHostPort (brackets when the host has a colon). */
export function joinHostPort(host: string, port: string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function asIpv4(ip: IpBytes): Uint8Array | undefined {
  if (ip.length === 4) return ip;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return undefined;
  if (ip[10] !== 0xff || ip[11] !== 0xff) return undefined;
  return ip.subarray(12, 16);
}

// Go 1.17+ rules: exactly four decimal fields, each 0-255, no leading zero.
function parseIpv4(text: string): IpBytes | undefined {
  const fields = text.split(".");
  if (fields.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const field = fields[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(field)) return undefined;
    const value = Number(field);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

// Mirrors Go's netip parseIPv6: groups of 1-4 hex digits, at most one "::"
// which must stand for at least one zero group, and an optional trailing
// dotted IPv4 occupying the last 32 bits.
function parseIpv6(text: string): IpBytes | undefined {
  const ip = new Uint8Array(16);
  let rest = text;
  let ellipsis = -1;
  if (rest.startsWith("::")) {
    ellipsis = 0;
    rest = rest.slice(2);
    if (rest === "") return ip;
  }
  let i = 0;
  while (i < 16) {
    const digits = /^[0-9a-fA-F]*/.exec(rest)![0];
    if (digits.length === 0 || digits.length > 4) return undefined;
    if (rest[digits.length] === ".") {
      if (ellipsis < 0 && i !== 12) return undefined;
      if (i + 4 > 16) return undefined;
      const v4 = parseIpv4(rest);
      if (v4 === undefined) return undefined;
      ip.set(v4, i);
      rest = "";
      i += 4;
      break;
    }
    const group = parseInt(digits, 16);
    ip[i] = group >> 8;
    ip[i + 1] = group & 0xff;
    i += 2;
    rest = rest.slice(digits.length);
    if (rest === "") break;
    if (rest[0] !== ":" || rest.length === 1) return undefined;
    rest = rest.slice(1);
    if (rest[0] === ":") {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      rest = rest.slice(1);
      if (rest === "") break;
    }
  }
  if (rest !== "") return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const shift = 16 - i;
    ip.copyWithin(ellipsis + shift, ellipsis, i);
    ip.fill(0, ellipsis, ellipsis + shift);
  } else if (ellipsis >= 0) {
    return undefined;
  }
  return ip;
}
