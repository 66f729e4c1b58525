// Routing through the real gateway: the reference suite's
// TestSimpleConnect table (spec §10.2) and TestEnvironment.
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { type ProxyGateway, startProxyGateway } from "./gateway.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

function referenceConfig(gw: ProxyGateway): string {
  const { gateway, servers } = gw;
  const source = (role: 2022 | 2023 | 2024 | 2025) =>
    `"${gateway.host}:${gateway.ports[role]}"`;
  return `
debug: true
log: ${gw.logDir}/sshproxy-{user}.log
environment:
  XMODIFIERS: globalEnv_{user}
ssh:
  args: ${gw.sshArgsYaml.slice(0, -1)}, "-o SendEnv=XMODIFIERS"]
service: default
dest: ["${servers.server3.address}"]
overrides:
  - match:
      - sources: [${source(2022)}]
    service: service1
    dest: ["${servers.server1.address}", "${servers.server2.address}"]
  - match:
      - sources: [${source(2023)}]
    service: service2
    dest: ["${servers.server1.address}"]
  - match:
      - sources: [${source(2024)}]
    service: service3
    dest: ["${servers.server2.address}"]
    environment:
      XMODIFIERS: serviceEnv_{user}
  - match:
      - sources: [${source(2023)}]
        groups: [sshproxy-user1, unknowngroup]
      - sources: [${source(2023)}]
        users: [unknownuser]
    service: service2
    dest: ["${servers.server2.address}"]
  - match:
      - groups: [unknowngroup]
      - users: [unknownuser, ${USERS.user2}]
    environment:
      XMODIFIERS: globalUserEnv_{user}
  - match:
      - sources: [${source(2024)}]
        groups: [unknowngroup]
      - sources: [${source(2024)}]
        users: [unknownuser, ${USERS.user2}]
    service: service3
    dest: ["${servers.server1.address}"]
    environment:
      XMODIFIERS: serviceUserEnv_{user}
`;
}

Deno.test({
  name:
    "sessions land where the reference's routing table says (TestSimpleConnect)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(referenceConfig(gw));
    const cases: [string, 2023 | 2024 | 2025, string][] = [
      [USERS.fedora, 2023, "server1"],
      [USERS.fedora, 2024, "server2"],
      [USERS.fedora, 2025, "server3"],
      [USERS.user1, 2023, "server2"],
      [USERS.user1, 2024, "server2"],
      [USERS.user2, 2023, "server2"],
      [USERS.user2, 2024, "server1"],
    ];
    for (const [user, role, expected] of cases) {
      const result = await sshAs(user as typeof USERS.fedora, {
        port: gw.gateway.ports[role],
        host: gw.gateway.host,
        command: "echo $SSHPROXY_TEST_HOST",
      });
      assert.equal(result.code, 0, `${user}@${role}: ${result.stderr}`);
      assert.equal(
        result.stdout.trim(),
        expected,
        `${user} on port role ${role}`,
      );
    }
  },
});

Deno.test({
  name:
    "environment variables merge per variable and reach the destination (TestEnvironment)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(referenceConfig(gw));
    const cases: [string, 2023 | 2024, string][] = [
      [USERS.fedora, 2023, `globalEnv_${USERS.fedora}`],
      [USERS.fedora, 2024, `serviceEnv_${USERS.fedora}`],
      [USERS.user2, 2023, `globalUserEnv_${USERS.user2}`],
      [USERS.user2, 2024, `serviceUserEnv_${USERS.user2}`],
    ];
    for (const [user, role, expected] of cases) {
      const result = await sshAs(user as typeof USERS.fedora, {
        port: gw.gateway.ports[role],
        host: gw.gateway.host,
        command: "echo $XMODIFIERS",
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), expected);
    }
  },
});
