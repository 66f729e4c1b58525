// Run by permissions_are_dropped_test.ts with the launcher's permission
// flags: applies one face's decision with the same functions the faces
// call, then tries every capability and prints what happened as JSON.
import {
  agentNeeds,
  type Capability,
  ctlNeeds,
  dumpdNeeds,
  keepOnly,
  replayNeeds,
} from "../../src/cli/permissions.ts";

const [face, ...rest] = Deno.args;
const needs: Record<string, () => Capability[]> = {
  "replay": () => replayNeeds(""),
  "replay-export": () => replayNeeds(rest[0] ?? "out.cast"),
  "dumpd": () => dumpdNeeds(),
  "agent": () => agentNeeds(),
  "ctl-hosts": () => ctlNeeds("show", "hosts", ""),
  "ctl-users": () => ctlNeeds("show", "users", ""),
  "ctl-enable": () => ctlNeeds("enable", undefined, ""),
};
await keepOnly(needs[face]());
const scratch = rest[1] ?? "/tmp";
const attempts: Record<Capability, () => unknown> = {
  read: () => Deno.readTextFileSync("/etc/hostname"),
  write: () => Deno.writeTextFileSync(`${scratch}/probe-${Deno.pid}`, "x"),
  net: () => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close(),
  env: () => Deno.env.get("HOME"),
  run: () => new Deno.Command("/bin/true").outputSync(),
  sys: () => Deno.hostname(),
};
const outcome: Record<string, string> = {};
for (const [name, attempt] of Object.entries(attempts)) {
  try {
    attempt();
    outcome[name] = "allowed";
  } catch (error) {
    outcome[name] = error instanceof Error ? error.name : String(error);
  }
}
console.log(JSON.stringify(outcome));
