// File transfers through the gateway, byte for byte: sftp with the
// subsystem translated into `ssh -s <host> -- sftp` (TestSFTP), a gateway
// that only allows sftp (TestOnlySFTP), scp in both protocols (TestSCP) and
// rsync of a whole tree, the latter with the default log (stderr), which
// the reference wrote to stdout, corrupting these protocols.
import assert from "node:assert/strict";
import {
  findSftpServer,
  run,
  runAs,
  sleep,
  SSH_OPTIONS,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import {
  e2e,
  type ProxyGateway,
  sshdDescendantExes,
  startProxyGateway,
  waitFor,
} from "./gateway.ts";

const user = USERS.fedora;
const SIZE = 10 * 1024 * 1024;

/** translate_commands for the gateway's sftp subsystem (spec §10.1, without the obsolete -oProtocol=2). */
async function sftpTranslation(): Promise<string> {
  const args = [
    "-oForwardX11=no",
    "-oForwardAgent=no",
    "-oPermitLocalCommand=no",
    "-oClearAllForwardings=yes",
    "-s",
  ];
  return `translate_commands:
  ${JSON.stringify(await findSftpServer())}:
    ssh_args: ${JSON.stringify(args)}
    command: sftp
`;
}

/** A directory owned by the test user inside the gateway's shared dir. */
async function userDir(gw: ProxyGateway, name: string): Promise<string> {
  const dir = `${gw.logDir}/${name}`;
  await Deno.mkdir(dir);
  await run(["chown", `${user}:`, dir]);
  return dir;
}

/** Writes `size` random bytes to `path` (owned by the test user), returns them. */
async function randomFile(
  path: string,
  size = SIZE,
): Promise<Uint8Array<ArrayBuffer>> {
  const data = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(data.subarray(offset, offset + 65536));
  }
  await Deno.writeFile(path, data);
  await run(["chown", `${user}:`, path]);
  return data;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function assertSameBytes(
  path: string,
  expected: Uint8Array<ArrayBuffer>,
) {
  const actual = await Deno.readFile(path).catch(() => new Uint8Array());
  assert.equal(actual.length, expected.length, `${path}: size`);
  assert.equal(await sha256(actual), await sha256(expected), `${path}: bytes`);
}

function sftpArgv(gw: ProxyGateway, port: number, batch: string): string[] {
  return [
    "/usr/bin/sftp",
    ...SSH_OPTIONS,
    "-P",
    String(port),
    "-b",
    batch,
    `${user}@${gw.gateway.host}`,
  ];
}

for (const server of ["server1", "server2"] as const) {
  Deno.test({
    name:
      `sftp through the translated subsystem moves 10 MB both ways byte for byte (TestSFTP, ${server})`,
    ...e2e,
    async fn() {
      await using gw = await startProxyGateway();
      const destination = gw.servers[server];
      await gw.writeConfig(
        gw.basicConfig({
          dest: [destination.address],
          extra: `debug: true\n${await sftpTranslation()}`,
        }),
      );
      const dir = await userDir(gw, "sftp");
      const source = await randomFile(`${dir}/source.bin`);
      const batch = `${dir}/batch`;
      await Deno.writeTextFile(
        batch,
        `get ${dir}/source.bin ${dir}/down.bin\n` +
          `put ${dir}/source.bin ${dir}/up.bin\n` +
          // Keeps the session open while the destination's processes are looked at.
          `!sleep 2\n`,
      );
      const transfer = runAs(
        user,
        sftpArgv(gw, gw.gateway.ports[2023], batch),
      );
      // While the session idles, the destination serves it with its own sftp
      // subsystem: sftp-server on server1, sshd's internal-sftp on server2
      // (an untranslated command would run the gateway's sftp-server path).
      const sftpServer = await findSftpServer();
      const serving = await waitFor(async () => {
        const exes = await sshdDescendantExes(destination.sshd);
        return exes.length > 0 && (await Deno.stat(`${dir}/up.bin`)
            .then((s) => s.size === SIZE, () => false))
          ? exes
          : undefined;
      }, 10_000);
      assert.ok(serving, "the transfer never reached the destination");
      if (server === "server1") assert.ok(serving.includes(sftpServer));
      else assert.ok(!serving.includes(sftpServer), serving.join(" "));

      const result = await transfer;
      assert.equal(result.code, 0, result.stderr);
      await assertSameBytes(`${dir}/down.bin`, source);
      await assertSameBytes(`${dir}/up.bin`, source);
      const log = await gw.readLog(user);
      assert.match(
        log,
        new RegExp(
          ` DEBUG [0-9A-F]{10}: command = .* "-s" "-oConnectTimeout=10" "${destination.host}" "--" "sftp"\\]\n`,
        ),
      );
    },
  });
}

Deno.test({
  name:
    "a sftp-only gateway (force_command + command_must_match) serves sftp and refuses commands (TestOnlySFTP)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({
        extra: `force_command: ${JSON.stringify(await findSftpServer())}
command_must_match: true
${await sftpTranslation()}`,
      }),
    );
    const dir = await userDir(gw, "sftp");
    const source = await randomFile(`${dir}/source.bin`);
    const batch = `${dir}/batch`;
    await Deno.writeTextFile(batch, `get ${dir}/source.bin ${dir}/down.bin\n`);
    const transfer = await runAs(
      user,
      sftpArgv(gw, gw.gateway.ports[2023], batch),
    );
    assert.equal(transfer.code, 0, transfer.stderr);
    await assertSameBytes(`${dir}/down.bin`, source);

    const marker = `${dir}/reached`;
    const refused = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: `touch ${marker}; exit 0`,
    });
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stdout, "");
    await sleep(100);
    assert.equal(
      await Deno.stat(marker).then(() => true, () => false),
      false,
      "the refused command ran",
    );
  },
});

/** The test user's scp argv towards the gateway. */
function scpArgv(gw: ProxyGateway, legacy: boolean, from: string, to: string) {
  return [
    "/usr/bin/scp",
    ...SSH_OPTIONS,
    ...(legacy ? ["-O"] : []),
    "-P",
    String(gw.gateway.ports[2023]),
    from,
    to,
  ];
}

for (const legacy of [false, true]) {
  Deno.test({
    name: `scp${
      legacy ? " -O (legacy scp protocol)" : " (SFTP protocol)"
    } uploads and downloads 10 MB byte for byte with the default log (TestSCP)`,
    ...e2e,
    async fn() {
      await using gw = await startProxyGateway();
      // Default log ("" = stderr) with debug: as many log lines as possible.
      await gw.writeConfig(
        gw.basicConfig({
          log: "",
          extra: `debug: true\n${await sftpTranslation()}`,
        }),
      );
      const dir = await userDir(gw, "scp");
      const source = await randomFile(`${dir}/source.bin`);
      const remote = `${user}@${gw.gateway.host}`;
      const up = await runAs(
        user,
        scpArgv(gw, legacy, `${dir}/source.bin`, `${remote}:${dir}/up.bin`),
      );
      assert.equal(up.code, 0, up.stderr);
      await assertSameBytes(`${dir}/up.bin`, source);
      const down = await runAs(
        user,
        scpArgv(gw, legacy, `${remote}:${dir}/up.bin`, `${dir}/down.bin`),
      );
      assert.equal(down.code, 0, down.stderr);
      await assertSameBytes(`${dir}/down.bin`, source);
      // The log went to the session's stderr: scp shows it for a command
      // session; sshd discards a subsystem's stderr (sftp protocol).
      if (legacy) {
        assert.match(down.stderr, / INFO [0-9A-F]{10}: proxied to /);
      }
    },
  });
}

/** Every entry of a tree: "dir", "link -> target" or "file <mode> <sha256>". */
async function describeTree(root: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const walk = async (relative: string) => {
    for await (const entry of Deno.readDir(`${root}/${relative}`)) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const info = await Deno.lstat(`${root}/${path}`);
      if (info.isSymlink) {
        entries.set(path, `link -> ${await Deno.readLink(`${root}/${path}`)}`);
      } else if (info.isDirectory) {
        entries.set(path, "dir");
        await walk(path);
      } else {
        const mode = ((info.mode ?? 0) & 0o777).toString(8);
        const data = await Deno.readFile(`${root}/${path}`);
        entries.set(path, `file ${mode} ${await sha256(data)}`);
      }
    }
  };
  await walk("");
  return entries;
}

Deno.test({
  name:
    "rsync copies a tree (nested dirs, files, a symlink) both ways intact with the default log",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ log: "", extra: "debug: true" }));
    const dir = await userDir(gw, "rsync");
    const tree = `${dir}/tree`;
    await Deno.mkdir(`${tree}/a/b/c`, { recursive: true });
    await Deno.mkdir(`${tree}/empty dir`);
    await randomFile(`${tree}/a/random.bin`, 3 * 1024 * 1024 + 17);
    await randomFile(`${tree}/a/b/c/small.bin`, 1000);
    await Deno.writeTextFile(`${tree}/a/b/notes with spaces.txt`, "hello\n");
    await Deno.writeTextFile(`${tree}/empty.txt`, "");
    await Deno.writeTextFile(`${tree}/run.sh`, "#!/bin/sh\necho hi\n");
    await Deno.chmod(`${tree}/run.sh`, 0o755);
    await Deno.symlink("a/b/c/small.bin", `${tree}/link`);
    await run(["chown", "-R", "-h", `${user}:`, tree]);
    const expected = await describeTree(tree);
    assert.equal(expected.size, 10);

    const rsh = ["/usr/bin/ssh", ...SSH_OPTIONS, "-T", "-p"]
      .concat(String(gw.gateway.ports[2023])).join(" ");
    const remote = `${user}@${gw.gateway.host}`;
    const up = await runAs(user, [
      "rsync",
      "-a",
      "-e",
      rsh,
      `${tree}/`,
      `${remote}:${dir}/uploaded/`,
    ]);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(await describeTree(`${dir}/uploaded`), expected);
    const down = await runAs(user, [
      "rsync",
      "-a",
      "-e",
      rsh,
      `${remote}:${dir}/uploaded/`,
      `${dir}/downloaded/`,
    ]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await describeTree(`${dir}/downloaded`), expected);
    assert.match(down.stderr, / INFO [0-9A-F]{10}: proxied to /);
  },
});
