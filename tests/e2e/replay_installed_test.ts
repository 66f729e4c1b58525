// The installed sshproxy-replay: the spec §8.7 listing to the byte (in
// Europe/Paris time), several files per call with a truncated one in the
// middle, live replay with -speed/-max-wait, and the asciicast v2 export
// checked line by line.
import assert from "node:assert/strict";
import { run } from "../harness/mod.ts";
import {
  type DumpRecord,
  encodeDump,
  encodeRecord,
  headerFromFacts,
} from "../../src/record/dump_format.ts";
import { checkAsciicast } from "../record/asciicast.ts";
import { installed } from "./installed.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const T0 = 1714634103041527381n;
const MS = 1_000_000n;
const bytes = (text: string) => new TextEncoder().encode(text);
const PARIS = { env: { TZ: "Europe/Paris" } };

const specHeader = headerFromFacts({
  user: "alice",
  command: "hostname",
  clientIp: "192.0.2.10",
  clientPort: 54321,
  sshdIp: "192.0.2.1",
  sshdPort: 22,
  startNs: T0,
});
const specDump = encodeDump(specHeader, [
  { timeNs: T0 + 150n * MS, fd: 1, data: bytes("server1\r\n") },
]);

const SPEC_LISTING = (file: string) =>
  `===> opening ${file}\n` +
  "--> Version: 1\n" +
  "--> Start:   2024-05-02 09:15:03.041527381 +0200 CEST\n" +
  "--> User:    alice\n" +
  "--> From:    192.0.2.10:54321\n" +
  "--> To:      192.0.2.1:22\n" +
  "--> Command: hostname\n" +
  "[May 02 09:15:03] [<--] 9 bytes\n" +
  "00000000  73 65 72 76 65 72 31 0d  0a                       |server1..|\n" +
  "\n";

// An interactive session (empty command) from an IPv6 client.
const ttyHeader = headerFromFacts({
  user: "bob",
  command: "",
  clientIp: "2001:db8::10",
  clientPort: 50000,
  sshdIp: "2001:db8::1",
  sshdPort: 2222,
  startNs: T0,
});
const TTY_RECORDS: DumpRecord[] = [
  { timeNs: T0 + 100n * MS, fd: 1, data: bytes("bob@node:~$ ") },
  { timeNs: T0 + 900n * MS, fd: 0, data: bytes("echo hé\r") },
  { timeNs: T0 + 950n * MS, fd: 1, data: bytes("echo hé\r\nhé\r\n") },
  { timeNs: T0 + 960n * MS, fd: 2, data: bytes("warning\n") },
  { timeNs: T0 + 3000n * MS, fd: 1, data: bytes("bob@node:~$ ") },
  { timeNs: T0 + 3100n * MS, fd: 0, data: new Uint8Array(0) },
];

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "replay-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "replay prints the spec §8.7 example exactly",
  ...e2e,
  async fn() {
    const product = await installed();
    await withDir(async (dir) => {
      const file = `${dir}/spec.dump`;
      await Deno.writeFile(file, specDump);
      const result = await run([product.replay, file], PARIS);
      assert.equal(result.stderr, "");
      assert.equal(result.code, 0);
      assert.equal(result.stdout, SPEC_LISTING(file));
    });
  },
});

Deno.test({
  name:
    "replay lists several files; a truncated one prints its complete records, says where it was cut, exit 1",
  ...e2e,
  async fn() {
    const product = await installed();
    await withDir(async (dir) => {
      const whole = encodeDump(ttyHeader, TTY_RECORDS);
      const cutAt = whole.length - encodeRecord(TTY_RECORDS[5]).length -
        encodeRecord(TTY_RECORDS[4]).length;
      await Deno.writeFile(`${dir}/cut.dump`, whole.subarray(0, cutAt + 20));
      await Deno.writeFile(`${dir}/spec.dump`, specDump);
      await Deno.writeFile(
        `${dir}/bad.dump`,
        bytes("not a dump at all, no sir. ".repeat(3)),
      );
      const result = await run([
        product.replay,
        `${dir}/cut.dump`,
        `${dir}/missing.dump`,
        `${dir}/bad.dump`,
        `${dir}/spec.dump`,
      ], PARIS);
      assert.equal(result.code, 1);
      const expected = `===> opening ${dir}/cut.dump\n` +
        "--> Version: 1\n" +
        "--> Start:   2024-05-02 09:15:03.041527381 +0200 CEST\n" +
        "--> User:    bob\n" +
        "--> From:    [2001:db8::10]:50000\n" +
        "--> To:      [2001:db8::1]:2222\n" +
        "--> Command: \n" +
        "[May 02 09:15:03] [<--] 12 bytes\n" +
        "00000000  62 6f 62 40 6e 6f 64 65  3a 7e 24 20              |bob@node:~$ |\n" +
        "\n" +
        "[      +0.800000] [-->] 9 bytes\n" +
        "00000000  65 63 68 6f 20 68 c3 a9  0d                       |echo h...|\n" +
        "\n" +
        "[      +0.850000] [<--] 15 bytes\n" +
        "00000000  65 63 68 6f 20 68 c3 a9  0d 0a 68 c3 a9 0d 0a     |echo h....h....|\n" +
        "\n" +
        "[      +0.860000] [<==] 8 bytes\n" +
        "00000000  77 61 72 6e 69 6e 67 0a                           |warning.|\n" +
        "\n" +
        `===> opening ${dir}/missing.dump\n` +
        `===> opening ${dir}/bad.dump\n` +
        SPEC_LISTING(`${dir}/spec.dump`);
      assert.equal(result.stdout, expected);
      const errors = result.stderr.split("\n");
      assert.equal(
        errors[0],
        `sshproxy-replay: ${dir}/cut.dump: truncated record at offset ${cutAt}`,
      );
      assert.match(
        errors[1],
        new RegExp(
          `^\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d error reading: open ${dir}/missing.dump: no such file or directory$`,
        ),
      );
      assert.equal(
        errors[2],
        `sshproxy-replay: ${dir}/bad.dump: not a dump file (reading header: unknow version number: 6e6f)`,
      );
      assert.equal(errors.length, 4);
    });
  },
});

Deno.test({
  name:
    "replay -replay writes fd 1 to stdout and fd 2 to stderr; -speed and -max-wait shorten the pauses",
  ...e2e,
  async fn() {
    const product = await installed();
    await withDir(async (dir) => {
      const file = `${dir}/tty.dump`;
      await Deno.writeFile(file, encodeDump(ttyHeader, TTY_RECORDS));
      const began = performance.now();
      const capped = await run(
        [product.replay, "-replay", "-max-wait", "50ms", file],
        PARIS,
      );
      const cappedMs = performance.now() - began;
      assert.equal(capped.code, 0, capped.stderr);
      const header = `===> opening ${file}\n--> Version: 1\n` +
        "--> Start:   2024-05-02 09:15:03.041527381 +0200 CEST\n" +
        "--> User:    bob\n--> From:    [2001:db8::10]:50000\n" +
        "--> To:      [2001:db8::1]:2222\n--> Command: \n";
      assert.equal(
        capped.stdout,
        header + "bob@node:~$ echo hé\r\nhé\r\nbob@node:~$ ",
      );
      assert.equal(capped.stderr, "warning\n");
      // Five pauses of at most 50 ms instead of 3 s of session.
      assert.ok(cappedMs < 2900, `took ${cappedMs} ms`);

      const began2 = performance.now();
      const fast = await run([product.replay, "-replay", "-speed", "3", file]);
      const fastMs = performance.now() - began2;
      assert.equal(fast.code, 0);
      assert.equal(fast.stderr, "warning\n");
      assert.ok(fastMs >= 900, `a third of 3 s is 1 s, took ${fastMs} ms`);

      const bad = await run([product.replay, "-speed", "0", file]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^invalid value "0" for flag -speed: /);
      const badWait = await run([product.replay, "-max-wait", "soon", file]);
      assert.equal(badWait.code, 2);
      assert.match(
        badWait.stderr,
        /^invalid value "soon" for flag -max-wait: /,
      );
    });
  },
});

Deno.test({
  name:
    "replay -asciicast writes a valid asciicast v2 with the recorded size, input on request",
  ...e2e,
  async fn() {
    const product = await installed();
    await withDir(async (dir) => {
      const file = `${dir}/tty.dump`;
      await Deno.writeFile(file, encodeDump(ttyHeader, TTY_RECORDS));
      await Deno.writeTextFile(
        `${file}.geometry`,
        `sshproxy-geometry 1\n${T0 + 1n} 132x43\n${T0 + 2000n * MS} 100x30\n`,
      );
      const cast = `${dir}/tty.cast`;
      const result = await run([product.replay, "-asciicast", cast, file]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "");
      const parsed = checkAsciicast(await Deno.readTextFile(cast));
      assert.equal(parsed.header.width, 132);
      assert.equal(parsed.header.height, 43);
      assert.equal(parsed.header.timestamp, 1714634103);
      assert.deepEqual(parsed.events, [
        [0.1, "o", "bob@node:~$ "],
        [0.95, "o", "echo hé\r\nhé\r\n"],
        [0.96, "o", "warning\n"],
        [2, "r", "100x30"],
        [3, "o", "bob@node:~$ "],
      ]);

      // To stdout, with input events and no geometry file: 80x24.
      await Deno.remove(`${file}.geometry`);
      const piped = await run([
        product.replay,
        "-asciicast",
        "-",
        "-asciicast-input",
        "-max-wait",
        "1s",
        file,
      ]);
      assert.equal(piped.code, 0, piped.stderr);
      const streamed = checkAsciicast(piped.stdout);
      assert.equal(streamed.header.width, 80);
      assert.equal(streamed.header.height, 24);
      assert.deepEqual(
        streamed.events.map(([time, code]) => [time, code]),
        [[0.1, "o"], [0.9, "i"], [0.95, "o"], [0.96, "o"], [1.96, "o"]],
      );

      const both = await run([product.replay, "-asciicast", cast, file, file]);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /^-asciicast exports exactly one dump file\n/);
    });
  },
});

Deno.test({
  name: "replay without files prints the usage and exits 2",
  ...e2e,
  async fn() {
    const product = await installed();
    const result = await run([product.replay]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^usage: \S*sshproxy-replay files \.\.\.\n/);
    for (
      const expected of [
        "\n  -asciicast string\n",
        "\n  -replay\n    \tlive replay a session (as the user did it)\n",
        "\n  -speed float\n",
        "(default 1)\n",
      ]
    ) {
      assert.ok(result.stderr.includes(expected), expected);
    }
  },
});
