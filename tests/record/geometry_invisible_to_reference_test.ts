// Terminal geometry (issue 5, item 2) must not change what reference tools
// see. Checked with a reader that follows the reference's rules exactly
// (helpers.ts): a dump recorded with resizes is byte-identical to one
// without, the sizes land in `<dump>.geometry`, and the alternative we
// rejected (a record on fd 3) is shown to leak into the reference's output.
import assert from "node:assert/strict";
import {
  encodeDump,
  headerFromFacts,
  type SessionFacts,
} from "../../src/record/dump_format.ts";
import { geometryPath, parseGeometry } from "../../src/record/geometry.ts";
import { Recorder } from "../../src/record/recorder.ts";
import {
  referenceListingArrows,
  referenceLiveWrites,
  referenceRead,
} from "./helpers.ts";

const T0 = 1_714_634_103_041_527_381n;
const FACTS: SessionFacts = {
  user: "alice",
  command: "",
  clientIp: "192.0.2.10",
  clientPort: 54321,
  sshdIp: "192.0.2.1",
  sshdPort: 22,
  startNs: T0,
};
const bytes = (text: string) => new TextEncoder().encode(text);

async function session(path: string, withResizes: boolean): Promise<void> {
  const recorder = Recorder.start({
    target: path,
    session: FACTS,
    log: () => {},
    now: () => T0,
  });
  if (withResizes) recorder.resize(132, 43, T0 + 1n);
  recorder.record(1, bytes("$ "), T0 + 10n);
  recorder.record(0, bytes("top\r"), T0 + 20n);
  if (withResizes) recorder.resize(200, 50, T0 + 25n);
  if (withResizes) recorder.resize(200, 50, T0 + 26n); // unchanged: not repeated
  recorder.record(1, bytes("\x1b[H\x1b[2Jtop - 09:15:03"), T0 + 30n);
  if (withResizes) recorder.resize(80, 24, T0 + 35n);
  recorder.record(0, new Uint8Array(0), T0 + 40n);
  await recorder.close();
}

Deno.test("resizes leave the dump byte-identical; the sizes go to <dump>.geometry", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await session(`${dir}/with.dump`, true);
    await session(`${dir}/without.dump`, false);
    const withSizes = await Deno.readFile(`${dir}/with.dump`);
    const without = await Deno.readFile(`${dir}/without.dump`);
    assert.deepEqual(withSizes, without);
    await assert.rejects(() => Deno.stat(geometryPath(`${dir}/without.dump`)));

    const reference = referenceRead(withSizes);
    assert.equal(reference.headerError, undefined);
    assert.equal(reference.recordError, undefined);
    assert.deepEqual(reference.records.map((r) => r.fd), [1, 0, 1, 0]);
    assert.deepEqual(
      referenceLiveWrites(withSizes),
      referenceLiveWrites(without),
    );
    assert.deepEqual(referenceListingArrows(withSizes), [
      "[<--] 2 bytes",
      "[-->] 4 bytes",
      "[<--] 21 bytes",
      "[-->] 0 bytes",
    ]);

    const side = geometryPath(`${dir}/with.dump`);
    assert.equal((await Deno.stat(side)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(side);
    assert.equal(
      text,
      `sshproxy-geometry 1\n${T0 + 1n} 132x43\n${T0 + 25n} 200x50\n${
        T0 + 35n
      } 80x24\n`,
    );
    assert.deepEqual(parseGeometry(text), [
      { timeNs: T0 + 1n, cols: 132, rows: 43 },
      { timeNs: T0 + 25n, cols: 200, rows: 50 },
      { timeNs: T0 + 35n, cols: 80, rows: 24 },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("why not a record on fd 3: the reference would show it and even write it to the terminal", () => {
  const header = headerFromFacts(FACTS);
  const dump = encodeDump(header, [
    { timeNs: T0 + 1n, fd: 1, data: bytes("$ ") },
    { timeNs: T0 + 2n, fd: 3, data: bytes("132x43") },
  ]);
  // -replay: the fd-3 data is written to the previous record's stream.
  const writes = referenceLiveWrites(dump);
  assert.deepEqual(
    writes.map((w) => [w.stream, new TextDecoder().decode(w.data)]),
    [["stdout", "$ "], ["stdout", "132x43"]],
  );
  // Listing: it shows up as if the user's stdout had carried it.
  assert.deepEqual(referenceListingArrows(dump), [
    "[<--] 2 bytes",
    "[<--] 6 bytes",
  ]);
});

Deno.test("the geometry reader ignores what is not a geometry file or line", () => {
  assert.deepEqual(parseGeometry(""), []);
  assert.deepEqual(parseGeometry("80x24\n"), []);
  assert.deepEqual(
    parseGeometry(
      "sshproxy-geometry 1\n5 0x24\nnonsense\n7 100x30\n8 100x\n-3 10x10",
    ),
    [{ timeNs: 7n, cols: 100, rows: 30 }, { timeNs: -3n, cols: 10, rows: 10 }],
  );
});
