// The terminal recorder of spec §5.14 (ssh under script(1)), with real
// processes: the parser of script's advanced logs on logs of a real
// script run fed in random slices, then the whole runner inside a real
// terminal (a tmux pane) recording a small interactive program, a resize,
// the exit status, a termination, and the fallbacks when script is
// missing or too old.
import assert from "node:assert/strict";
import { decodeDump } from "../../src/record/dump_format.ts";
import {
  parseTimingLine,
  ScriptLogDemux,
} from "../../src/session/script_log.ts";
import {
  SCRIPT_COMMAND,
  scriptEnvironment,
  scriptUnavailable,
} from "../../src/session/terminal_recording.ts";
import { prng } from "../record/helpers.ts";

const processes = { sanitizeOps: false, sanitizeResources: false };

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

Deno.test("timing lines: I/O/S/H as script 2.38 writes them, anything else ignored", () => {
  assert.deepEqual(parseTimingLine("O 0.003113 5"), {
    kind: "O",
    delayUs: 3113n,
    bytes: 5,
  });
  assert.deepEqual(parseTimingLine("I 12.000001 4096"), {
    kind: "I",
    delayUs: 12_000_001n,
    bytes: 4096,
  });
  assert.deepEqual(parseTimingLine("S 1.500000 SIGWINCH ROWS=40 COLS=120"), {
    kind: "S",
    delayUs: 1_500_000n,
    signal: "SIGWINCH",
    rows: 40,
    cols: 120,
  });
  assert.deepEqual(parseTimingLine("S 0.100000 SIGTERM"), {
    kind: "S",
    delayUs: 100_000n,
    signal: "SIGTERM",
  });
  assert.deepEqual(parseTimingLine("H 0.000000 COLUMNS 100"), {
    kind: "H",
    name: "COLUMNS",
    value: "100",
  });
  assert.deepEqual(
    parseTimingLine("H 0.000000 START_TIME 2024-05-02 09:15:03+02:00"),
    { kind: "H", name: "START_TIME", value: "2024-05-02 09:15:03+02:00" },
  );
  for (const junk of ["", "O 1 5", "O 0.1 5", "X 0.000000 5", "I 0.000001"]) {
    assert.equal(parseTimingLine(junk), undefined, junk);
  }
});

Deno.test({
  name:
    "the logs of a real script run, fed in any slicing, give back every byte in order with cumulative times",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const io = `${dir}/io`;
      const timing = `${dir}/timing`;
      // Not on a terminal here (no sizes): lots of output, some input.
      const child = new Deno.Command("script", {
        args: [
          "-q",
          "-f",
          "-e",
          "-m",
          "advanced",
          "-B",
          io,
          "-T",
          timing,
          "-c",
          "head -c 300000 /dev/urandom | od -An -tx1; read x; echo got-$x; exit 5",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
        env: { SHELL: "/bin/sh" },
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("abc\n"));
      await writer.close();
      const { code, stdout } = await child.output();
      assert.equal(code, 5);
      const ioBytes = await Deno.readFile(io);
      const timingBytes = await Deno.readFile(timing);
      // Every I/O byte between the banner line and the trailer, in order.
      const bannerEnd = ioBytes.indexOf(0x0a) + 1;
      const trailer = new TextDecoder("latin1").decode(ioBytes).lastIndexOf(
        "\nScript done on ",
      );
      const expected = ioBytes.slice(bannerEnd, trailer);
      assert.ok(new TextDecoder().decode(stdout).includes("got-abc"));

      const random = prng(7);
      for (let round = 0; round < 20; round++) {
        const events: { fd: number; bytes: Uint8Array; timeNs: bigint }[] = [];
        const demux = new ScriptLogDemux({
          data: (fd, bytes, timeNs) =>
            events.push({ fd, bytes: bytes.slice(), timeNs }),
          resize: () => assert.fail("no terminal, no size"),
        }, 1_000_000_000n);
        // Interleave random slices of both logs, as two FIFOs deliver them.
        let i = 0;
        let t = 0;
        while (i < ioBytes.length || t < timingBytes.length) {
          const size = 1 + Math.floor(random() * (round === 0 ? 1 : 70000));
          if (
            (random() < 0.5 && i < ioBytes.length) || t >= timingBytes.length
          ) {
            demux.pushIo(ioBytes.subarray(i, i + size));
            i += size;
          } else {
            demux.pushTiming(timingBytes.subarray(t, t + size));
            t += size;
          }
        }
        demux.endTiming();
        assert.equal(demux.pendingEntries, 0);
        assert.deepEqual(concat(events.map((e) => e.bytes)), expected);
        const input = concat(
          events.filter((e) => e.fd === 0).map((e) => e.bytes),
        );
        assert.equal(new TextDecoder().decode(input), "abc\n");
        for (let k = 1; k < events.length; k++) {
          assert.ok(events[k].timeNs >= events[k - 1].timeNs);
        }
        assert.ok(events[0].timeNs >= 1_000_000_000n);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("sizes: the header's COLUMNS/LINES once, then every SIGWINCH, at their times", () => {
  const sizes: string[] = [];
  const data: string[] = [];
  const demux = new ScriptLogDemux({
    data: (fd, bytes, timeNs) =>
      data.push(`${fd}:${new TextDecoder().decode(bytes)}@${timeNs}`),
    resize: (cols, rows, timeNs) => sizes.push(`${cols}x${rows}@${timeNs}`),
  }, 1000n);
  demux.pushIo(new TextEncoder().encode('Script started on X [TERM="x"]\nab'));
  demux.pushTiming(new TextEncoder().encode(
    "H 0.000000 START_TIME 2024\nH 0.000000 COLUMNS 100\nH 0.000000 LINES 30\n" +
      "O 0.000002 1\nS 0.000003 SIGWINCH ROWS=40 COLS=120\nI 0.000005 1\n" +
      "S 0.000001 SIGWINCH ROWS=0 COLS=0\nO 0.000001 3",
  ));
  assert.deepEqual(data, ["1:a@3000", "0:b@11000"]);
  demux.pushIo(new TextEncoder().encode("cd\n\nScript done on X\n"));
  demux.endTiming();
  assert.deepEqual(data, ["1:a@3000", "0:b@11000", "1:cd\n@13000"]);
  assert.deepEqual(sizes, ["100x30@1000", "120x40@6000", "0x0@12000"]);
});

Deno.test({
  name:
    "the command script evals runs ssh's argv exactly, with the user's TERM, SHELL and LC_ALL back",
  ...processes,
  async fn() {
    const argv = [
      "/bin/sh",
      "-c",
      'printf "%s|" "$@"; printf "%s|%s|%s|%s" "$TERM" "$SHELL" "${LC_ALL-unset}" "${SSHPROXY_SSH_COMMAND-gone}"',
      "zero",
      "it's",
      "two\nlines",
      "$HOME `id` \\",
      "",
    ];
    const original: Record<string, string> = {
      TERM: 'xterm"\n]evil',
      SHELL: "/usr/local/bin/odd shell",
    };
    const prepared = scriptEnvironment(argv, (name) => original[name]);
    assert.equal(prepared.env.TERM, "unknown");
    assert.equal(prepared.env.SHELL, "/bin/sh");
    assert.equal(prepared.env.LC_ALL, "C");
    const output = await new Deno.Command("/bin/sh", {
      args: ["-c", SCRIPT_COMMAND],
      env: prepared.env,
      stdout: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(output.stdout),
      `it's|two\nlines|$HOME \`id\` \\||` +
        `xterm"\n]evil|/usr/local/bin/odd shell|unset|gone`,
    );
    assert.equal(
      scriptEnvironment(["ssh"], (n) => n === "TERM" ? "xterm-256color" : "")
        .env.TERM,
      "xterm-256color",
    );
  },
});

Deno.test({
  name: "script missing or too old: the reason, nothing started",
  ...processes,
  async fn() {
    assert.match(
      (await scriptUnavailable("/nonexistent/script")) ?? "",
      /executable file not found/,
    );
    const dir = await Deno.makeTempDir();
    try {
      const old = `${dir}/script`;
      await Deno.writeTextFile(
        old,
        "#!/bin/sh\necho 'script from util-linux 2.34'\n",
      );
      await Deno.chmod(old, 0o755);
      assert.match(
        (await scriptUnavailable(old)) ?? "",
        /util-linux 2\.34, 2\.35 or later is needed/,
      );
      const other = `${dir}/other`;
      await Deno.writeTextFile(other, "#!/bin/sh\necho busybox\n");
      await Deno.chmod(other, 0o755);
      assert.match(
        (await scriptUnavailable(other)) ?? "",
        /not util-linux's script/,
      );
      assert.equal(await scriptUnavailable(), undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// --- The runner in a real terminal -------------------------------------

const driver = new URL("./recorded_terminal_driver.ts", import.meta.url)
  .pathname;

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("tmux", {
    args: ["-S", socket, ...args],
    env: { TERM: "xterm-256color" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout);
}

async function waitFor<T>(probe: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!value && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await probe();
  }
  return value;
}

/** Runs the driver in a 100x30 tmux pane; `interact` drives it. */
async function inTerminal(
  flags: string[],
  argv: string[],
  interact: (socket: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/tmux.sock`;
  const dump = `${dir}/session.dump`;
  const quote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;
  const command = [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    driver,
    dump,
    ...flags,
    "--",
    ...argv,
  ].map(quote).join(" ");
  try {
    await tmux(
      socket,
      "new-session",
      "-d",
      "-s",
      "s",
      "-x",
      "100",
      "-y",
      "30",
      `${command}; sleep 60`,
    );
    await interact(socket);
    const out = await waitFor(
      () => Deno.readTextFile(`${dump}.out`).catch(() => ""),
      20_000,
    );
    assert.ok(out, `the driver did not finish:\n${await screen(socket)}`);
    const screenText = await screen(socket);
    const decoded = decodeDump(await Deno.readFile(dump));
    const geometry = await Deno.readTextFile(`${dump}.geometry`).catch(() =>
      ""
    );
    return { out, decoded, geometry, screen: screenText };
  } finally {
    await tmux(socket, "kill-server");
    await Deno.remove(dir, { recursive: true });
  }
}

function screen(socket: string): Promise<string> {
  return tmux(socket, "capture-pane", "-p", "-t", "s");
}

function fdText(records: { fd: number; data: Uint8Array }[], fd: number) {
  return new TextDecoder().decode(
    concat(records.filter((r) => r.fd === fd).map((r) => r.data)),
  );
}

Deno.test({
  name:
    "in a real terminal: output fd 1, typed input fd 0, no fd 2, initial size and resize recorded, exit status kept",
  ...processes,
  async fn() {
    const result = await inTerminal(
      [],
      [
        "/bin/sh",
        "-c",
        "printf hello; read x; echo got-$x; echo oops >&2; stty size; " +
        'trap "stty size; exit 3" WINCH; while :; do sleep 0.05; done',
      ],
      async (socket) => {
        const ready = await waitFor(
          async () => (await screen(socket)).includes("hello"),
          10_000,
        );
        assert.ok(ready, await screen(socket));
        await tmux(socket, "send-keys", "-t", "s", "-l", "abc");
        await tmux(socket, "send-keys", "-t", "s", "Enter");
        const sized = await waitFor(
          async () => (await screen(socket)).includes("30 100"),
          10_000,
        );
        assert.ok(sized, await screen(socket));
        await tmux(socket, "resize-window", "-t", "s", "-x", "120", "-y", "40");
      },
    );
    assert.match(result.out, /^status=3\nsignal=\n/);
    assert.match(
      result.out,
      /INFO bytes transferred \(final step\): duration=\d+s stdin=4 stdout=\d+ stderr=0\n/,
    );
    assert.equal(result.decoded.end.kind, "complete");
    const records = result.decoded.records;
    assert.equal(fdText(records, 0), "abc\r");
    assert.equal(records.filter((r) => r.fd === 2).length, 0);
    // -E always: the pty echoes what is typed in cooked mode, as a new pty
    // does in the reference; stderr is merged into the terminal.
    assert.equal(
      fdText(records, 1),
      "helloabc\r\ngot-abc\r\noops\r\n30 100\r\n40 120\r\n",
    );
    const sizes = result.geometry.trim().split("\n").slice(1).map((l) =>
      l.split(" ")[1]
    );
    assert.deepEqual(sizes, ["100x30", "120x40"]);
    assert.ok(result.screen.includes("40 120"), result.screen);
  },
});

Deno.test({
  name:
    "terminate: ssh gets SIGTERM directly (script would wait 2 s), the status says so, the output so far is recorded",
  ...processes,
  async fn() {
    const started = Date.now();
    const result = await inTerminal(
      ["--terminate-after", "1500"],
      ["/bin/sh", "-c", "echo started; exec sleep 30"],
      async () => {},
    );
    assert.match(result.out, /^status=143\nsignal=SIGTERM\n/);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(fdText(result.decoded.records, 1), "started\r\n");
  },
});

Deno.test({
  name: "a program that cannot be executed: script reports it, status 127",
  ...processes,
  async fn() {
    const result = await inTerminal(
      [],
      ["/nonexistent/ssh", "-V"],
      () => Promise.resolve(),
    );
    assert.match(result.out, /^status=127\n/);
    assert.match(fdText(result.decoded.records, 1), /nonexistent\/ssh/);
  },
});
