// The session's timers (src/system/timers.ts), on the runtime's own timer
// rather than Deno's Node timers (tests/e2e/login_runs_the_prebuilt_proxy_
// test.ts checks what a login loads): they fire in order, and a cancelled
// or stopped one neither fires nor keeps the process alive. Each case runs in a process of its own
// whose exit (or not) is what is checked.
import assert from "node:assert/strict";

const TIMERS = new URL("../../src/system/timers.ts", import.meta.url).href;

/** Runs `body` (with the timers imported) in a fresh Deno; its output and duration. */
async function run(body: string): Promise<{ out: string; ms: number }> {
  const script =
    `import { after, answerDeadline, deadline, every, ioDeadline, sleep } from ${
      JSON.stringify(TIMERS)
    };\n${body}\n`;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A timer that still held the process would keep it 60 s.
  const killer = AbortSignal.timeout(15_000);
  const kill = () => child.kill("SIGKILL");
  killer.addEventListener("abort", kill);
  const output = await child.output();
  killer.removeEventListener("abort", kill);
  const ms = performance.now() - started;
  const out = new TextDecoder().decode(output.stdout);
  assert.ok(
    output.success,
    `status ${output.code}: ${new TextDecoder().decode(output.stderr)}`,
  );
  return { out, ms };
}

Deno.test("timers fire in order, and a cancelled one never does", async () => {
  const { out } = await run(`
    const seen = [];
    const cancelled = deadline(20);
    cancelled.expired.then(() => seen.push("cancelled fired"));
    cancelled.cancel();
    deadline(30).expired.then(() => seen.push("deadline"));
    const forget = after(25, () => seen.push("forgotten fired"));
    forget();
    after(10, () => seen.push("after"));
    let ticks = 0;
    const stop = every(5, () => { ticks++; if (ticks === 3) stop(); });
    await sleep(100);
    console.log(JSON.stringify({ seen, ticks }));
  `);
  assert.deepEqual(JSON.parse(out), { seen: ["after", "deadline"], ticks: 3 });
});

Deno.test("a cancelled deadline, a forgotten timer and a stopped repetition let the process end", async () => {
  const { ms } = await run(`
    deadline(60_000).cancel();
    after(60_000, () => console.log("fired"))();
    every(60_000, () => console.log("tick"))();
  `);
  assert.ok(ms < 15_000);
});

Deno.test("a repetition still running does not hold the process once nothing else does", async () => {
  const { out, ms } = await run(`
    let ticks = 0;
    every(5, () => ticks++);
    every(60_000, () => console.log("tick"));
    await sleep(100);
    console.log(ticks > 5 ? "ticked" : "ticks: " + ticks);
  `);
  assert.equal(out.trim(), "ticked");
  assert.ok(ms < 15_000);
});

Deno.test("an I/O deadline fires while I/O is under way, a cancelled one never, and neither holds the process", async () => {
  const { out } = await run(`
    const seen = [];
    // A pending accept: the I/O that holds the process meanwhile.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepting = listener.accept().catch(() => {});
    const cancelled = ioDeadline(20);
    cancelled.expired.then(() => seen.push("cancelled fired"));
    cancelled.cancel();
    ioDeadline(30).expired.then(() => seen.push("deadline"));
    ioDeadline(0).expired.then(() => seen.push("at once"));
    await deadline(100).expired;
    listener.close();
    await accepting;
    console.log(JSON.stringify(seen));
  `);
  assert.deepEqual(JSON.parse(out), ["at once", "deadline"]);
  const { ms } = await run(`
    ioDeadline(60_000).expired.then(() => console.log("fired"));
  `);
  assert.ok(ms < 15_000);
});

Deno.test("with nothing but I/O under way, I/O and answer deadlines still pass (a login's probe and agent bounds); alone they hold nothing", async () => {
  const { out } = await run(`
    // A pending accept, never answered, is all that holds the process.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepting = listener.accept().catch(() => {});
    const started = performance.now();
    await ioDeadline(150).expired;
    const io = performance.now() - started;
    await answerDeadline(150).expired;
    const answer = performance.now() - started - io;
    listener.close();
    await accepting;
    console.log(JSON.stringify([io, answer]));
  `);
  const [io, answer] = JSON.parse(out) as number[];
  // Passed, neither early nor hung until the accept ends.
  assert.ok(io >= 149 && io < 5000, `I/O deadline passed after ${io} ms`);
  assert.ok(
    answer >= 159 && answer < 5000,
    `answer deadline (150 ms and a 10 ms look) passed after ${answer} ms`,
  );
  const { ms } = await run(`
    answerDeadline(60_000).expired.then(() => console.log("fired"));
  `);
  assert.ok(ms < 15_000);
});
