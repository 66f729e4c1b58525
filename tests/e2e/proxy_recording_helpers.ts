// Shared by the proxy_recording_* e2e tests: finding and decoding the dumps
// a real session wrote, and comparing bytes by hash.
import assert from "node:assert/strict";
import {
  decodeDump,
  type DumpHeader,
  type DumpRecord,
} from "../../src/record/dump_format.ts";
import { run, type TestUser } from "../harness/mod.ts";

/** Every `*.dump` file under `dir` (recursively), sorted. */
export async function findDumps(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else if (entry.name.endsWith(".dump")) found.push(full);
    }
  };
  await walk(dir).catch(() => {});
  return found.sort();
}

/** A complete dump file decoded (fails the test on a truncated or corrupt one). */
export async function readDump(
  path: string,
): Promise<{ header: DumpHeader; records: DumpRecord[] }> {
  const decoded = decodeDump(await Deno.readFile(path));
  assert.equal(decoded.error, undefined, `${path}: ${decoded.error?.message}`);
  assert.equal(decoded.end.kind, "complete", `${path}: ${decoded.end.kind}`);
  assert.ok(decoded.header, `${path}: no header`);
  return { header: decoded.header, records: decoded.records };
}

/** The bytes of one fd's records, in order. */
export function streamBytes(
  records: readonly DumpRecord[],
  fd: number,
): Uint8Array<ArrayBuffer> {
  const parts = records.filter((r) => r.fd === fd);
  const size = parts.reduce((sum, r) => sum + r.data.length, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part.data, offset);
    offset += part.data.length;
  }
  return out;
}

/** Hex SHA-256. */
export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** A directory owned by `user` (mode 0755) for the session's files. */
export async function userOwnedDir(
  parent: string,
  name: string,
  user: TestUser,
): Promise<string> {
  const dir = `${parent}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  await run(["chown", `${user}:`, dir]);
  return dir;
}

/** Writes `size` random bytes to `path`, owned by `user`; returns them. */
export async function randomFile(
  path: string,
  size: number,
  user: TestUser,
): Promise<Uint8Array<ArrayBuffer>> {
  const data = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(data.subarray(offset, offset + 65536));
  }
  await Deno.writeFile(path, data);
  await run(["chown", `${user}:`, path]);
  return data;
}

/** The lines of a log that carry `text`. */
export function logLines(log: string, text: string | RegExp): string[] {
  return log.split("\n").filter((line) =>
    typeof text === "string" ? line.includes(text) : text.test(line)
  );
}
