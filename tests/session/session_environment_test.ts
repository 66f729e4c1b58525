import assert from "node:assert/strict";
import { sessionEnvironment } from "../../src/session/environment.ts";

Deno.test("configured variables are set and the whole environment is listed", () => {
  const result = sessionEnvironment(
    [["PATH", "/usr/bin"], ["LANG", "C"]],
    new Map([["LANG", "fr_FR.UTF-8"], ["XMODIFIERS", "@im=none"]]),
  );
  assert.deepEqual(result.toSet, [["LANG", "fr_FR.UTF-8"], [
    "XMODIFIERS",
    "@im=none",
  ]]);
  // A variable that already exists keeps its place; new ones come last.
  assert.deepEqual(result.debugLines, [
    "env = PATH=/usr/bin",
    "env = LANG=fr_FR.UTF-8",
    "env = XMODIFIERS=@im=none",
  ]);
});

Deno.test("hidden variables are left out of the DEBUG listing only", () => {
  const result = sessionEnvironment(
    [["HOME", "/home/alice"], ["ETCD_PASSWORD", "s3cret"]],
    new Map([["API_TOKEN", "t0ken"]]),
    ["ETCD_PASSWORD", "API_TOKEN"],
  );
  assert.deepEqual(result.toSet, [["API_TOKEN", "t0ken"]]);
  assert.deepEqual(result.debugLines, ["env = HOME=/home/alice"]);
});

Deno.test("names the OS cannot take are dropped, as Go's ignored setenv error does", () => {
  const result = sessionEnvironment(
    [],
    new Map([["", "x"], ["A=B", "x"], ["NUL", "a\0b"], ["OK", ""]]),
  );
  assert.deepEqual(result.toSet, [["OK", ""]]);
  assert.deepEqual(result.debugLines, ["env = OK="]);
});

Deno.test("PATH is the configuration's, else the system one, never the session's", () => {
  const session: [string, string][] = [["PATH", "/home/alice/bin:/usr/bin"]];
  const system = sessionEnvironment(
    session,
    new Map([["LANG", "C"]]),
    [],
    "/usr/bin:/bin",
  );
  assert.deepEqual(system.toSet, [["PATH", "/usr/bin:/bin"], ["LANG", "C"]]);
  assert.deepEqual(system.debugLines, [
    "env = PATH=/usr/bin:/bin",
    "env = LANG=C",
  ]);
  const configured = sessionEnvironment(
    session,
    new Map([["PATH", "/opt/site/bin"]]),
    [],
    "/usr/bin:/bin",
  );
  assert.deepEqual(configured.toSet, [["PATH", "/opt/site/bin"]]);
});
