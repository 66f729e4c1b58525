// When the gateway's ssh gives up on a destination at its ConnectTimeout,
// the user is told which destination did not answer; any other failure
// (another status, another moment, a destination that answers now) says
// nothing more (issue 13 item 3). The probe is real: a TCP listener that
// never sends a banner, and one that sends an SSH identification line.
import assert from "node:assert/strict";
import {
  endedAtTimeout,
  type SilenceInputs,
  silentDestination,
} from "../../src/session/silent_destination.ts";

function inputs(overrides: Partial<SilenceInputs> = {}): SilenceInputs {
  return {
    status: { code: 255 },
    elapsedMs: 10_020,
    connectTimeoutSeconds: 10,
    destination: "127.0.0.1:1",
    host: "127.0.0.1",
    port: 1,
    ...overrides,
  };
}

Deno.test("only status 255 right at the timeout looks like ConnectTimeout", async (t) => {
  const rows: [string, Partial<SilenceInputs>, boolean][] = [
    ["255 at 10.02 s", {}, true],
    ["255 at 12.9 s (a loaded machine)", { elapsedMs: 12_900 }, true],
    [
      "255 after 30 s: a session that broke later",
      { elapsedMs: 30_000 },
      false,
    ],
    [
      "255 after 2 s: refused, or a remote exit 255",
      { elapsedMs: 2_000 },
      false,
    ],
    ["status 1", { status: { code: 1 } }, false],
    ["killed by a signal", { status: { code: 255, signal: "SIGKILL" } }, false],
    [
      "no timeout (ConnectTimeout=0)",
      { connectTimeoutSeconds: undefined },
      false,
    ],
    ["the admin's 5 s", { connectTimeoutSeconds: 5, elapsedMs: 5_010 }, true],
  ];
  for (const [what, overrides, expected] of rows) {
    await t.step(what, () => {
      assert.equal(endedAtTimeout(inputs(overrides)), expected);
    });
  }
});

/** A loopback listener; `banner` is sent to each connection if given. */
function listen(banner?: string): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const connection of listener) {
        connections.push(connection);
        if (banner) {
          connection.write(new TextEncoder().encode(banner)).catch(() => {});
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

Deno.test("a destination that still sends no banner is named", async () => {
  const silent = listen();
  try {
    const destination = `127.0.0.1:${silent.port}`;
    const verdict = await silentDestination(
      inputs({ destination, port: silent.port }),
    );
    assert.deepEqual(verdict, {
      log: `destination ${destination} did not answer within 10s ` +
        `(ssh ConnectTimeout): ssh ${destination}: connected, but no SSH ` +
        `identification within 1s`,
      user: `destination ${destination} did not answer within 10s, ` +
        `please try again later`,
    });
  } finally {
    silent.close();
  }
});

Deno.test("a destination that answers now is not blamed", async () => {
  const sshd = listen("SSH-2.0-OpenSSH_9.2\r\n");
  try {
    const verdict = await silentDestination(
      inputs({ destination: `127.0.0.1:${sshd.port}`, port: sshd.port }),
    );
    assert.equal(verdict, undefined);
  } finally {
    sshd.close();
  }
});

Deno.test("nothing is probed when ssh did not end at the timeout", async () => {
  let probed = false;
  const verdict = await silentDestination(
    inputs({ elapsedMs: 500 }),
    () => {
      probed = true;
      return Promise.resolve({ ok: false, error: "x" });
    },
  );
  assert.equal(verdict, undefined);
  assert.equal(probed, false);
});
