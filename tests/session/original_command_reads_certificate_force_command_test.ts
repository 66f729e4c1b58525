import assert from "node:assert/strict";
import { parseAuthorizedKey } from "../../src/session/authorized_key.ts";
import { originalCommand } from "../../src/session/original_command.ts";
import { fail, ok } from "../../src/result.ts";
import {
  certify,
  inTempDir,
  newKey,
  sshKeygen,
  userAuthFor,
} from "./ssh_keygen.ts";

const FORCED = "/bin/echo forced";

const KEY_TYPES: [string, string[]][] = [
  ["ssh-ed25519-cert-v01@openssh.com", ["-t", "ed25519"]],
  ["ssh-rsa-cert-v01@openssh.com", ["-t", "rsa", "-b", "2048"]],
  ["ecdsa-sha2-nistp256-cert-v01@openssh.com", ["-t", "ecdsa", "-b", "256"]],
  ["ecdsa-sha2-nistp384-cert-v01@openssh.com", ["-t", "ecdsa", "-b", "384"]],
  ["ecdsa-sha2-nistp521-cert-v01@openssh.com", ["-t", "ecdsa", "-b", "521"]],
  ["ssh-dss-cert-v01@openssh.com", ["-t", "dsa"]],
];

Deno.test("a certificate's force-command replaces SSH_ORIGINAL_COMMAND", async (t) => {
  await inTempDir(async (dir) => {
    await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
    for (const [certType, typeArgs] of KEY_TYPES) {
      await t.step(certType, async () => {
        const name = certType.split("-cert")[0];
        await newKey(dir, name, typeArgs);
        const cert = await certify(dir, name, [`force-command=${FORCED}`]);
        assert.ok(cert.startsWith(`${certType} `));
        assert.deepEqual(
          originalCommand(
            ok(userAuthFor(cert)),
            "user command",
            parseAuthorizedKey,
          ),
          {
            command: FORCED,
            forced: true,
            warnings: [],
            debugLine: `original command (forced) = ${FORCED}`,
          },
        );
      });
    }
  });
});

Deno.test("certificates signed by an RSA or ECDSA CA are read too", async (t) => {
  for (const caArgs of [["-t", "rsa", "-b", "2048"], ["-t", "ecdsa"]]) {
    await t.step(caArgs.join(" "), async () => {
      await inTempDir(async (dir) => {
        await sshKeygen(["-q", ...caArgs, "-N", "", "-f", `${dir}/ca`]);
        await newKey(dir, "user", ["-t", "ed25519"]);
        const cert = await certify(dir, "user", [`force-command=${FORCED}`]);
        const result = originalCommand(
          ok(userAuthFor(cert)),
          "",
          parseAuthorizedKey,
        );
        assert.equal(result.command, FORCED);
        assert.equal(result.forced, true);
      });
    });
  }
});

Deno.test("force-command is found among other critical options", async () => {
  await inTempDir(async (dir) => {
    await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
    await newKey(dir, "user", ["-t", "ed25519"]);
    const cert = await certify(dir, "user", [
      "source-address=10.0.0.0/8",
      `force-command=${FORCED}`,
      "verify-required",
      "no-pty",
    ]);
    const result = originalCommand(
      ok(userAuthFor(cert)),
      "ls",
      parseAuthorizedKey,
    );
    assert.equal(result.command, FORCED);
    assert.equal(result.forced, true);
  });
});

Deno.test("without force-command the user's command is kept", async (t) => {
  await inTempDir(async (dir) => {
    await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
    const plain = await newKey(dir, "user", ["-t", "ed25519"]);
    const cert = await certify(dir, "user", ["source-address=10.0.0.0/8"]);
    const kept = (command: string) => ({
      command,
      forced: false,
      warnings: [],
      debugLine: `original command = ${command}`,
    });
    await t.step("certificate without force-command", () => {
      assert.deepEqual(
        originalCommand(ok(userAuthFor(cert)), "ls", parseAuthorizedKey),
        kept("ls"),
      );
    });
    await t.step("plain (non-certificate) key", () => {
      assert.deepEqual(
        originalCommand(ok(userAuthFor(plain)), "ls", parseAuthorizedKey),
        kept("ls"),
      );
    });
    await t.step("password authentication", () => {
      assert.deepEqual(
        originalCommand(ok("password\n"), "ls", parseAuthorizedKey),
        kept("ls"),
      );
    });
    await t.step("SSH_USER_AUTH unset", () => {
      assert.deepEqual(
        originalCommand(undefined, "", parseAuthorizedKey),
        kept(""),
      );
    });
  });
});

Deno.test("sshd's multi-method content and CRLF endings are read", async () => {
  await inTempDir(async (dir) => {
    await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
    await newKey(dir, "user", ["-t", "ed25519"]);
    const cert = await certify(dir, "user", [`force-command=${FORCED}`]);
    const twoMethods = userAuthFor(cert) + "keyboard-interactive\n";
    assert.equal(
      originalCommand(ok(twoMethods), "", parseAuthorizedKey).command,
      FORCED,
    );
    const crlf = userAuthFor(cert).replace("\n", "\r\n");
    assert.equal(
      originalCommand(ok(crlf), "", parseAuthorizedKey).command,
      FORCED,
    );
  });
});

Deno.test("unusable SSH_USER_AUTH content gives a warning, not a failure", async (t) => {
  const warned = (warning: string) => ({
    command: "ls",
    forced: false,
    warnings: [warning],
    debugLine: "original command = ls",
  });
  await t.step("garbage after publickey", () => {
    assert.deepEqual(
      originalCommand(ok("publickey garbage\n"), "ls", parseAuthorizedKey),
      warned("ssh: no key found"),
    );
  });
  await t.step("bad base64 reports Go's last parsing error", () => {
    assert.deepEqual(
      originalCommand(
        ok("publickey ssh-ed25519 !!!!\n"),
        "ls",
        parseAuthorizedKey,
      ),
      warned(
        "ssh: no key found; last parsing error for ignored line: " +
          "illegal base64 data at input byte 0",
      ),
    );
  });
  await t.step("unreadable file: the caller's error is the warning", () => {
    const error = "open _non_existing_file_: no such file or directory";
    assert.deepEqual(originalCommand(fail(error), "ls"), warned(error));
  });
});

Deno.test("a damaged certificate is not used", async (t) => {
  await inTempDir(async (dir) => {
    await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
    await newKey(dir, "user", ["-t", "ed25519"]);
    const cert = await certify(dir, "user", [`force-command=${FORCED}`]);
    const [type, base64] = cert.split(" ");
    const blob = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const reencode = (bytes: Uint8Array) =>
      `publickey ${type} ${btoa(String.fromCharCode(...bytes))}\n`;
    const prefix = "ssh: no key found; last parsing error for ignored line: ";
    await t.step("truncated signature", () => {
      const result = originalCommand(
        ok(reencode(blob.slice(0, -1))),
        "ls",
        parseAuthorizedKey,
      );
      assert.equal(result.command, "ls");
      assert.deepEqual(result.warnings, [prefix + "ssh: short read"]);
    });
    await t.step("trailing bytes", () => {
      const longer = new Uint8Array([...blob, 0]);
      const result = originalCommand(
        ok(reencode(longer)),
        "ls",
        parseAuthorizedKey,
      );
      assert.deepEqual(result.warnings, [
        prefix + "ssh: parse error in message type 0",
      ]);
    });
  });
});

Deno.test("the key type field is not trusted, the blob's type is", async () => {
  await inTempDir(async (dir) => {
    await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
    await newKey(dir, "user", ["-t", "ed25519"]);
    const cert = await certify(dir, "user", [`force-command=${FORCED}`]);
    const base64 = cert.split(" ")[1];
    const result = originalCommand(
      ok(`publickey ssh-rsa ${base64}\n`),
      "",
      parseAuthorizedKey,
    );
    assert.equal(result.command, FORCED);
  });
});
