// `deno task demo`: a throwaway gateway (sshd whose ForceCommand is the
// installed sshproxy) in front of three destinations on loopback; a few
// users log in and we print where each landed. Everything is torn down at
// the end, and on Ctrl-C. Needs root: it creates the test accounts and
// runs sshd, which must switch to the logging-in user.
import { sshAs, USERS } from "../tests/harness/mod.ts";
import { startProxyGateway } from "../tests/e2e/gateway.ts";

if (Deno.uid() !== 0) {
  console.error(
    "demo: run as root (it creates test users and starts sshd on loopback): sudo deno task demo",
  );
  Deno.exit(1);
}

console.log(
  "demo: installing sshproxy into a temporary prefix and starting a gateway and 3 destinations...",
);
const gw = await startProxyGateway();
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await gw.stop();
  console.log("demo: everything stopped");
  Deno.exit(code);
};
Deno.addSignalListener("SIGINT", () => void stop(130));
Deno.addSignalListener("SIGTERM", () => void stop(143));

const { gateway, servers } = gw;
const config =
  `# Demo configuration: routing by listening port, by group and by user.
log: ${gw.logDir}/sshproxy-{user}.log
ssh:
  args: ${gw.sshArgsYaml}
dest: ["${servers.server1.address}"]
overrides:
  - match:
      - groups: [${USERS.user1}]
    dest: ["${servers.server2.address}"]
  - match:
      - sources: ["${gateway.host}:${gateway.ports[2024]}"]
    service: interactive
    dest: ["127.0.0.1:1", "${servers.server3.address}", "${servers.server1.address}"]
`;
await gw.writeConfig(config);
console.log(
  `demo: gateway ${gateway.host} ports ${
    Object.values(gateway.ports).join(", ")
  }; config:\n${config}`,
);

const sessions: [string, number, string][] = [
  [USERS.fedora, gateway.ports[2022], "default route"],
  [USERS.user1, gateway.ports[2022], "member of group sshproxy-user1"],
  [USERS.user2, gateway.ports[2022], "primary group sshproxy-user1"],
  [
    USERS.fedora,
    gateway.ports[2024],
    "port 2024 role: first destination is dead, skipped",
  ],
];
let failures = 0;
for (const [user, port, why] of sessions) {
  const result = await sshAs(user as typeof USERS.fedora, {
    port,
    host: gateway.host,
    command: "echo $SSHPROXY_TEST_HOST",
  });
  if (result.ok) console.log(`${user} -> ${result.stdout.trim()}   (${why})`);
  else {
    failures++;
    console.log(
      `${user} -> FAILED (exit ${result.code}): ${result.stderr.trim()}`,
    );
  }
}
console.log(`demo: gateway log of ${USERS.fedora}:`);
console.log(
  await Deno.readTextFile(`${gw.logDir}/sshproxy-${USERS.fedora}.log`).catch(
    () => "(none)",
  ),
);
await stop(failures === 0 ? 0 : 1);
