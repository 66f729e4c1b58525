// The restarted agent's list of sessions (src/agent/session_file.ts): what
// is written reads back the same, and a file that does not read as a whole
// is refused as a whole.
import assert from "node:assert/strict";
import {
  decodeState,
  encodeState,
  type SavedState,
} from "../../src/agent/session_file.ts";

const state: SavedState = {
  lease: "7587871234567890123",
  sessions: [{
    sessionId: "3F2A9C01D4",
    uid: 1001,
    user: "alice",
    service: "default",
    destination: "login1:22",
    sshd: "192.0.2.1:22",
    client: "198.51.100.7:51000",
    pid: 4242,
    startTime: "123456789",
    startedMs: 1_800_000_000_000,
    key:
      "/sshproxy/connections/alice@default/login1:22/192.0.2.1:22/2026-12-06T10:00:00Z",
    history: {
      user: "alice",
      service: "default",
      dest: "login1:22",
      ttl: 3600,
    },
  }],
};

Deno.test("the saved sessions read back as written", () => {
  assert.deepEqual(decodeState(encodeState(state)), { ok: true, value: state });
  assert.deepEqual(decodeState(encodeState({ sessions: [] })), {
    ok: true,
    value: { sessions: [] },
  });
});

Deno.test("a file that does not read is refused whole", () => {
  const text = encodeState(state);
  for (
    const [broken, error] of [
      ["{", "not JSON"],
      [text.replace('"version":1', '"version":2'), "unknown version"],
      [text.replace('"pid":4242', '"pid":-1'), "bad session entry"],
      [
        text.replace('"startTime":"123456789"', '"startTime":"x"'),
        "bad session entry",
      ],
      [text.replace('"ttl":3600', '"ttl":"3600"'), "bad history entry"],
      [
        text.replace('"lease":"7587871234567890123"', '"lease":12'),
        "bad lease",
      ],
    ]
  ) {
    assert.deepEqual(decodeState(broken), { ok: false, error });
  }
});
