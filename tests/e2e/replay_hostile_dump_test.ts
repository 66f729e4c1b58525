// Issue 12 item 3 and issue 13 item 4, against the installed commands: a
// recording cannot drive the admin's terminal. A user's command recorded
// through the real gateway, or a dump anyone can send to the collector,
// may hold newlines, escape sequences, C1 controls and invalid UTF-8 in its
// header: sshproxy-replay prints them escaped (no forged `--> User:` line,
// no byte a terminal obeys), raw bytes reach the terminal only in -replay
// mode, the asciicast export escapes what JSON leaves raw, and dumpd's log
// escapes the names it mentions. A header that cannot be read names the
// file and says what is wrong with it.
import assert from "node:assert/strict";
import {
  freePort,
  run,
  sleep,
  sshAs,
  USERS,
  waitForPort,
} from "../harness/mod.ts";
import { startService } from "../harness/process.ts";
import {
  decodeDump,
  type DumpRecord,
  encodeDump,
  encodeHeader,
} from "../../src/record/dump_format.ts";
import { checkAsciicast } from "../record/asciicast.ts";
import { e2e, startProxyGateway } from "./gateway.ts";
import { installed } from "./installed.ts";

const T0 = 1714634103041527381n;
const utf8 = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

// What a terminal or a log viewer obeys: C0 but LF, DEL, a lone 0x9b
// (CSI to an 8-bit terminal), C1 in UTF-8, U+2028/U+2029.
function terminalControls(bytes: Uint8Array): string[] {
  const found: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if ((b < 0x20 && b !== 0x0a) || b === 0x7f) {
      found.push(`0x${b.toString(16)} at ${i}`);
    }
    if (b === 0x9b && (i === 0 || bytes[i - 1] !== 0xc2)) {
      found.push(`0x9b at ${i}`);
    }
    if (b === 0xc2 && bytes[i + 1] >= 0x80 && bytes[i + 1] <= 0x9f) {
      found.push(`C1 at ${i}`);
    }
    if (
      b === 0xe2 && bytes[i + 1] === 0x80 &&
      (bytes[i + 2] === 0xa8 || bytes[i + 2] === 0xa9)
    ) {
      found.push(`U+2028/9 at ${i}`);
    }
  }
  return found;
}

async function runBytes(argv: string[]) {
  const output = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
    env: { TZ: "UTC" },
  }).output();
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

function linesStartingWith(bytes: Uint8Array, prefix: string): number {
  return new TextDecoder().decode(bytes).split("\n")
    .filter((line) => line.startsWith(prefix)).length;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "replay-hostile-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// A header anyone can send to a collector: user and command are raw bytes.
const HOSTILE_HEADER = {
  version: 1,
  clientIp: new Uint8Array([
    ...new Array(10).fill(0),
    0xff,
    0xff,
    192,
    0,
    2,
    10,
  ]),
  clientPort: 54321,
  sshdIp: new Uint8Array([...new Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1]),
  sshdPort: 22,
  startNs: T0,
  user: concat(
    utf8("alice\n--> User:    root\x1b[2J"),
    new Uint8Array([0x9b]),
    utf8("31m"),
  ),
  command: utf8("ls\r\n--> Command: rm -rf /\x1b]0;owned\x07\u2028\u009b2J"),
};
const RECORDS: DumpRecord[] = [
  {
    timeNs: T0 + 1_000_000n,
    fd: 1,
    data: utf8("plain \x1b[31mred\x1b[0m \u009b2J\n"),
  },
  { timeNs: T0 + 2_000_000n, fd: 2, data: utf8("err\x07\n") },
];

Deno.test({
  name:
    "a hostile dump header is listed escaped: one --> User: and one --> Command: line, no control byte",
  ...e2e,
  async fn() {
    const product = await installed();
    await withDir(async (dir) => {
      const file = `${dir}/hostile.dump`;
      await Deno.writeFile(file, encodeDump(HOSTILE_HEADER, RECORDS));
      const listed = await runBytes([product.replay, file]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(terminalControls(listed.stdout), []);
      assert.equal(linesStartingWith(listed.stdout, "--> User:"), 1);
      assert.equal(linesStartingWith(listed.stdout, "--> Command:"), 1);
      const text = new TextDecoder().decode(listed.stdout);
      assert.ok(
        text.includes(
          "--> User:    alice\\n--> User:    root\\x1b[2J\\x9b31m\n",
        ),
        text,
      );
      assert.ok(
        text.includes(
          "--> Command: ls\\r\\n--> Command: rm -rf /\\x1b]0;owned\\a\\u2028\\u009b2J\n",
        ),
        text,
      );

      // -replay: the header is still escaped; the session's own bytes go
      // out raw, which is what the admin asked for.
      const live = await runBytes([product.replay, "-replay", file]);
      assert.equal(live.code, 0, live.stderr);
      const liveText = new TextDecoder().decode(live.stdout);
      assert.equal(linesStartingWith(live.stdout, "--> User:"), 1);
      assert.ok(
        liveText.endsWith("plain \x1b[31mred\x1b[0m \u009b2J\n"),
        liveText,
      );
      assert.equal(live.stderr, "err\x07\n");
      const header = live.stdout.subarray(0, liveText.indexOf("plain"));
      assert.deepEqual(terminalControls(header), []);

      // Asciicast to stdout: JSON, with DEL, C1 and U+2028 escaped too.
      const cast = await runBytes([product.replay, "-asciicast", "-", file]);
      assert.equal(cast.code, 0, cast.stderr);
      assert.deepEqual(terminalControls(cast.stdout), []);
      const parsed = checkAsciicast(new TextDecoder().decode(cast.stdout));
      assert.equal(
        parsed.events.map(([, , data]) => data).join(""),
        "plain \x1b[31mred\x1b[0m \u009b2J\nerr\x07\n",
      );
      assert.ok(
        String(parsed.header.title).startsWith(
          "alice\n--> User:    root\x1b[2J",
        ),
      );
    });
  },
});

Deno.test({
  name:
    "a command recorded through the gateway cannot forge replay header lines",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dumps = `${gw.logDir}/dumps`;
    await Deno.mkdir(dumps);
    await Deno.chmod(dumps, 0o1777);
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${dumps}/{user}-{sid}.dump"` }),
    );
    const user = USERS.user1;
    const command = "echo ok; : '\n--> User:    root\x1b]0;owned\x07\x1b[2J'";
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "ok\n");
    let files: string[] = [];
    for (let i = 0; i < 100 && files.length === 0; i++) {
      files = [...Deno.readDirSync(dumps)].map((e) => `${dumps}/${e.name}`)
        .filter((f) => f.endsWith(".dump"));
      if (files.length === 0) await sleep(50);
    }
    assert.equal(files.length, 1, `dumps: ${files}`);
    const recorded = decodeDump(await Deno.readFile(files[0])).header;
    assert.equal(new TextDecoder().decode(recorded?.command), command);
    const listed = await runBytes([gw.product.replay, files[0]]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(terminalControls(listed.stdout), []);
    assert.equal(linesStartingWith(listed.stdout, "--> User:"), 1);
    assert.ok(
      new TextDecoder().decode(listed.stdout).includes(
        "--> Command: echo ok; : '\\n--> User:    root\\x1b]0;owned\\a\\x1b[2J'\n",
      ),
    );
  },
});

Deno.test({
  name:
    "a header that cannot be read names the file and says whether it is not a dump or a truncated one",
  ...e2e,
  async fn() {
    const product = await installed();
    await withDir(async (dir) => {
      const whole = encodeHeader({
        ...HOSTILE_HEADER,
        user: utf8("bob"),
        command: utf8("ls"),
      });
      const files: [string, Uint8Array, string][] = [
        [
          "empty.dump",
          new Uint8Array(0),
          "empty file, not a dump (reading header: EOF)",
        ],
        [
          "text.dump",
          utf8("not a dump at all, no sir. ".repeat(3)),
          "not a dump file (reading header: unknow version number: 6e6f)",
        ],
        [
          "short-text.dump",
          utf8("hello\n"),
          "not a dump file (reading header: unexpected EOF)",
        ],
        [
          "short.dump",
          whole.subarray(0, 30),
          "truncated dump: the file ends inside the header, after 30 bytes (reading header: unexpected EOF)",
        ],
        [
          "cut-user.dump",
          whole.subarray(0, 50),
          "truncated dump: the file ends inside the header, after 50 bytes (reading header: reading user: EOF)",
        ],
      ];
      for (const [name, bytes] of files) {
        await Deno.writeFile(`${dir}/${name}`, bytes);
      }
      const result = await run([
        product.replay,
        ...files.map(([name]) => `${dir}/${name}`),
      ]);
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        files.map(([name, , why]) =>
          `sshproxy-replay: ${dir}/${name}: ${why}\n`
        ).join(""),
      );
    });
  },
});

Deno.test({
  name: "user names from dumps reach dumpd's log escaped",
  ...e2e,
  async fn() {
    const product = await installed();
    const output = await Deno.makeTempDir({ prefix: "dumpd-hostile-" });
    const port = await freePort();
    const logPath = `${output}.log`;
    const service = startService(
      [product.dumpd, "-listen", `127.0.0.1:${port}`, "-output", output],
      logPath,
    );
    try {
      assert.ok(await waitForPort("127.0.0.1", port, 30_000, service.alive));
      // dumpd accepts this name (no C0 control), and it is in the way: the
      // mkdir error names it.
      const user = "evil\u2028[127.0.0.1:1] connected\u0085x";
      await Deno.writeTextFile(`${output}/${user}`, "in the way");
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        encodeDump({ ...HOSTILE_HEADER, user: utf8(user) }, RECORDS),
      );
      conn.close();
      let log = "";
      for (let i = 0; i < 200; i++) {
        log = await Deno.readTextFile(logPath);
        if (log.includes("error: mkdir")) break;
        await sleep(50);
      }
      const mkdirLines = log.split("\n").filter((l) =>
        l.includes("error: mkdir")
      );
      assert.equal(mkdirLines.length, 1, log);
      assert.ok(!/[\u0085\u2028]/.test(log), JSON.stringify(log));
      assert.ok(
        mkdirLines[0].includes("evil\\u2028[127.0.0.1:1] connected\\u0085x"),
        mkdirLines[0],
      );
    } finally {
      await service.stop();
      await Deno.remove(output, { recursive: true });
      await Deno.remove(logPath).catch(() => {});
    }
  },
});
