// The face is chosen by argv[0]'s basename, else by the first argument.
import assert from "node:assert/strict";
import { chooseFace } from "../../src/cli/dispatch.ts";

Deno.test("each installed name selects its face and keeps every argument", () => {
  const cases: [string, string][] = [
    ["/usr/sbin/sshproxy", "proxy"],
    ["sshproxyctl", "ctl"],
    ["/opt/bin/sshproxy-dumpd", "dumpd"],
    ["./sshproxy-replay", "replay"],
    ["/usr/local/bin/sshproxy-agent", "agent"],
  ];
  for (const [argv0, face] of cases) {
    const choice = chooseFace(argv0, ["-version", "x"]);
    assert.ok("face" in choice);
    assert.equal(choice.face, face);
    assert.deepEqual(choice.args, ["-version", "x"]);
    assert.equal(choice.programName, argv0);
  }
});

Deno.test("under another name the first argument picks the face", () => {
  for (const face of ["proxy", "ctl", "dumpd", "replay", "agent"]) {
    const choice = chooseFace("/usr/local/bin/deno", [face, "-c", "f.yaml"]);
    assert.ok("face" in choice);
    assert.equal(choice.face, face);
    assert.deepEqual(choice.args, ["-c", "f.yaml"]);
  }
});

Deno.test("an unknown face or no face at all is a usage error", () => {
  const unknown = chooseFace("deno", ["proxi"]);
  assert.ok("usage" in unknown);
  assert.match(unknown.usage, /^unknown face: proxi\nusage: /);
  const none = chooseFace("deno", []);
  assert.ok("usage" in none);
  assert.match(none.usage, /^usage: /);
});

Deno.test("a name that only contains a face name does not select it", () => {
  const choice = chooseFace("/usr/bin/sshproxy.old", ["ctl"]);
  assert.ok("face" in choice);
  assert.equal(choice.face, "ctl");
});
