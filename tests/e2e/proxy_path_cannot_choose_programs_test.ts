// A user who can set the session's PATH must not choose which ssh,
// blocking command or background command the proxy starts: a program of
// theirs named `ssh` would run instead of the hop, as them, outside the
// ForceCommand. sshd sets PATH itself after `AcceptEnv` variables, but not
// after ~/.ssh/environment (`PermitUserEnvironment`) nor, with PAM, after
// pam_env's user files (Debian's sshd PAM stack reads them with
// user_readenv=1), which live in the user's (often shared) home. Bare
// names are looked up in the system directories only
// (src/system/trusted_path.ts).
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { withUserFile } from "../harness/user_files.ts";
import { e2e, startProxyGateway } from "./gateway.ts";

const user = USERS.user1;

Deno.test({
  name:
    "PATH sent by the user does not choose ssh, the blocking command or the background command",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway({
      gatewayExtraConfig: ["PermitUserEnvironment PATH"],
    });
    // The user's own programs, in a directory they can write.
    const evil = `${gw.logDir}/evil-bin`;
    await Deno.mkdir(evil);
    await Deno.chmod(evil, 0o755);
    const marker = `${gw.logDir}/evil-ran`;
    for (const name of ["ssh", "true", "sleep"]) {
      const program = `${evil}/${name}`;
      await Deno.writeTextFile(
        program,
        `#!/bin/sh\necho "${name} $*" >> ${marker}\necho evil-${name}\n`,
      );
      await Deno.chmod(program, 0o755);
    }
    const login = (extra: string) =>
      gw.writeConfig(gw.basicConfig({ extra })).then(() =>
        sshAs(user, {
          port: gw.gateway.ports[2022],
          host: gw.gateway.host,
          command: "echo on-$SSHPROXY_TEST_HOST",
        }, { timeoutMs: 30_000 })
      );
    await withUserFile(
      user,
      ".ssh/environment",
      `PATH=${evil}:/usr/bin:/bin\n`,
      async () => {
        const plain = await login(
          "blocking_command: true\nbg_command: sleep 5\n",
        );
        assert.equal(plain.code, 0, plain.stderr);
        assert.equal(plain.stdout, "on-server1\n");

        const recorded = await login(
          `dump: ${gw.logDir}/{user}-{sid}.dump\n`,
        );
        assert.equal(recorded.code, 0, recorded.stderr);
        assert.equal(recorded.stdout, "on-server1\n");

        // Handed off, the installed script runs the ssh of the plan.
        const handedOff = await login("handoff: true\n");
        assert.equal(handedOff.code, 0, handedOff.stderr);
        assert.equal(handedOff.stdout, "on-server1\n");
        assert.match(await gw.readLog(user), /handed off to ssh, pid \d+/);
      },
    );

    const ran = await Deno.readTextFile(marker).catch(() => "");
    assert.equal(ran, "", `the user's programs ran:\n${ran}`);
  },
});
