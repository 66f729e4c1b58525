// Seals Deno's caches in DENO_DIR (the directory given) for users who can
// only read them; run by scripts/install.sh after the warm-up runs.
//
// Deno keeps its caches (module analysis, V8 code cache) in SQLite
// databases in WAL mode and opens them at every start with statements
// that, on a read-only database, fail unless (checked with Deno 2.9.6):
// * the write-ahead log was checkpointed by a writer that ended cleanly
//   (a reader cannot recover a log a killed writer left: "attempt to write
//   a readonly database"), while the -wal and -shm files stay in place
//   (a reader cannot create them in a read-only directory);
// * `PRAGMA optimize` has nothing left to do (else it writes statistics).
// When opening fails, Deno silently falls back to empty in-memory caches:
// every login would then parse and compile the whole program again.
// So: optimize, checkpoint, and exit without closing (closing the last
// connection would delete the -wal and -shm files).
import { DatabaseSync } from "node:sqlite";

const dir = Deno.args[0];
if (dir === undefined) {
  console.error("usage: seal_cache.ts DENO_DIR");
  Deno.exit(2);
}
let sealed = 0;
for (const entry of Deno.readDirSync(dir)) {
  if (!entry.isFile || !entry.name.endsWith("_cache_v2")) continue;
  const path = `${dir}/${entry.name}`;
  try {
    const database = new DatabaseSync(path);
    database.exec("PRAGMA optimize");
    const [result] = database.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
      .all() as { busy: number }[];
    if (result?.busy !== 0) throw new Error("the checkpoint was blocked");
    sealed++;
  } catch (error) {
    console.error(
      `seal_cache: ${path}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    Deno.exit(1);
  }
}
if (sealed === 0) {
  console.error(`seal_cache: no Deno cache database in ${dir}`);
  Deno.exit(1);
}
// Deliberately no close(): see above.
Deno.exit(0);
