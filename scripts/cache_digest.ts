// Prints a digest of the V8 code cache in DENO_DIR (the directory given):
// every module's specifier and cached code. scripts/install.sh compares it
// around one more warm-up under the login face's flags: V8 refuses a cache
// made under other flags, and Deno then writes a new one, so a change
// means that the two sets of flags in scripts/runtime_flags.sh are not
// cache-compatible and some face would compile the program at every start.
//
//   deno run --allow-read scripts/cache_digest.ts DENO_DIR
import { DatabaseSync } from "node:sqlite";

const dir = Deno.args[0];
if (dir === undefined) {
  console.error("usage: cache_digest.ts DENO_DIR");
  Deno.exit(2);
}
const hex = (bytes: ArrayBuffer) =>
  Array.from(
    new Uint8Array(bytes),
    (byte) => byte.toString(16).padStart(2, "0"),
  )
    .join("");
try {
  const database = new DatabaseSync(`${dir}/v8_code_cache_v2`, {
    readOnly: true,
  });
  const rows = database.prepare(
    "SELECT specifier, data FROM codecache ORDER BY specifier",
  ).all() as { specifier: string; data: Uint8Array<ArrayBuffer> }[];
  const lines: string[] = [];
  for (const row of rows) {
    lines.push(
      `${row.specifier}\0${
        hex(await crypto.subtle.digest("SHA-256", row.data))
      }`,
    );
  }
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(lines.join("\n")),
  );
  console.log(`${rows.length} ${hex(digest)}`);
} catch (error) {
  console.error(
    `cache_digest: ${dir}/v8_code_cache_v2: ${
      error instanceof Error ? error.message : String(error)
    }`,
  );
  Deno.exit(1);
}
