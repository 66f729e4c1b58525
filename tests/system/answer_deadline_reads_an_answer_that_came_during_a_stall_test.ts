// answerDeadline (src/system/timers.ts) bounds the wait for a peer's
// answer, the agent's greeting above all. A session starved of CPU past
// the bound (25 logins at a time on two cores) finds the timer and the
// answer ready together; the plain deadline then won about half the
// races, and the session routed itself as if the agent were slow. Here a
// real Unix socket, served by another process that answers at once,
// while this process stalls past the bound.
import assert from "node:assert/strict";
import { answerDeadline, sleep } from "../../src/system/timers.ts";

const SERVER = `
const listener = Deno.listen({ transport: "unix", path: Deno.args[0] });
console.log("ready");
for await (const connection of listener) {
  await connection.write(new TextEncoder().encode("hello\\n"));
}
`;

async function withAnsweringServer(
  body: (socket: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/answers.sock`;
  const server = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--no-check", SERVER, socket],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.getReader();
  try {
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value).trim(), "ready");
    await body(socket);
  } finally {
    reader.releaseLock();
    server.kill("SIGKILL");
    await server.status;
    await server.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

// Busy, as a process the scheduler does not run: no event-loop turn.
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // nothing runs meanwhile
  }
}

Deno.test("an answer that came while the process stalled past the bound is read, in every try", async () => {
  await withAnsweringServer(async (socket) => {
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      const connection = await Deno.connect({
        transport: "unix",
        path: socket,
      });
      const bound = answerDeadline(50);
      const read = connection.read(new Uint8Array(16)).then(() => "answer");
      stall(120);
      outcomes.push(
        await Promise.race([read, bound.expired.then(() => "timeout")]),
      );
      bound.cancel();
      connection.close();
    }
    assert.deepEqual(outcomes, Array(20).fill("answer"));
  });
});

Deno.test("an answer deadline still passes when no answer comes", async () => {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({
    transport: "unix",
    path: `${dir}/silent.sock`,
  });
  try {
    const connection = await Deno.connect({
      transport: "unix",
      path: `${dir}/silent.sock`,
    });
    const accepted = await listener.accept();
    const started = performance.now();
    const bound = answerDeadline(40);
    const read = connection.read(new Uint8Array(16)).then(() => "answer");
    const outcome = await Promise.race([
      read,
      bound.expired.then(() => "timeout"),
    ]);
    const waited = performance.now() - started;
    assert.equal(outcome, "timeout");
    assert.ok(waited >= 40, `passed after ${waited} ms`);
    connection.close();
    accepted.close();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a cancelled answer deadline never passes, before or during its second look", async () => {
  const early = answerDeadline(20);
  let earlyPassed = false;
  early.expired.then(() => earlyPassed = true);
  early.cancel();
  const late = answerDeadline(5);
  let latePassed = false;
  late.expired.then(() => latePassed = true);
  // Past the bound (5 ms), within the second look (10 ms more).
  await sleep(8);
  late.cancel();
  // Past both looks of both (an answer deadline does not hold the process:
  // the I/O it bounds does; sleep does here).
  await sleep(60);
  assert.equal(earlyPassed, false);
  assert.equal(latePassed, false);
});
