// Which of our functions a login runs: scripts/install.sh runs two
// stateless sessions (a command, a shell) of the freshly built login face,
// as the launcher starts it (a plan file offered for hand-off, sshd's pid)
// and with a file written as sites write theirs, to a listener of its own
// on loopback, with `true` as the ssh client and V8 logging its function
// events, and writes, for each module of app/ the sessions loaded, where
// the functions they compiled start. scripts/eager_compile.ts then
// compiles those with their module (into the code cache) and leaves the
// others to V8's lazy compilation: a function no login runs keeps no
// bytecode in every idle session (by hand: 10.41 against 10.64 MiB private
// dirty with every function compiled). A session that runs one of the
// others (etcd, a rarer configuration key) compiles it when it runs.
//
// The sessions are the product's own: if one fails or logs a warning, the
// build is broken, and the install stops with its last words.
//
//   deno run --allow-read --allow-write --allow-run --allow-net \
//     scripts/login_profile.ts DENO LIB V8_FLAGS PROFILE.json
//
// LIB holds deno.json and app/ (scripts/bundle.sh's output); V8_FLAGS are
// the login face's (scripts/runtime_flags.sh).

/** Start positions (V8's: a function's parameter list) of compiled functions, per module file name. */
export type LoginProfile = Record<string, number[]>;

/** Reads V8's `--log-function-events` log: functions compiled or run in `dir`'s modules. */
export function profileFromLog(log: string, dir: string): LoginProfile {
  const prefix = new URL(`file://${dir}/`).href;
  const scripts = new Map<string, string>();
  const positions = new Map<string, Set<number>>();
  for (const line of log.split("\n")) {
    const fields = line.split(",");
    if (fields[0] === "script-details" && fields[2]?.startsWith(prefix)) {
      const file = fields[2].slice(prefix.length);
      if (!file.includes("/")) scripts.set(fields[1], file);
    } else if (
      fields[0] === "function" &&
      (fields[1] === "interpreter" || fields[1] === "first-execution")
    ) {
      const file = scripts.get(fields[2]);
      const start = Number(fields[3]);
      // Position 0 is the module's top level, compiled with it anyway.
      if (file === undefined || !(start > 0)) continue;
      if (!positions.has(file)) positions.set(file, new Set());
      positions.get(file)!.add(start);
    }
  }
  return Object.fromEntries(
    [...positions].map((
      [file, starts],
    ) => [file, [...starts].sort((a, b) => a - b)]),
  );
}

if (import.meta.main) {
  const [deno, lib, v8Flags, output] = Deno.args;
  if (output === undefined || Deno.args.length !== 4) {
    console.error("usage: login_profile.ts DENO LIB V8_FLAGS PROFILE.json");
    Deno.exit(2);
  }
  const fail = (message: string): never => {
    console.error(`login_profile: ${message}`);
    Deno.exit(1);
  };
  const work = await Deno.makeTempDir({ prefix: "sshproxy-profile-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    // The destination: answers like an sshd, then hangs up.
    (async () => {
      for await (const connection of listener) {
        connection.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"))
          .catch(() => {}).finally(() => connection.close());
      }
    })().catch(() => {});
    const truePath = ["/usr/bin/true", "/bin/true"].find((path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    }) ?? fail("no /usr/bin/true or /bin/true to stand for ssh");
    // Written as sites write theirs: comments, plain and quoted scalars,
    // block and flow lists, a nested mapping.
    await Deno.writeTextFile(
      `${work}/sshproxy.yaml`,
      [
        "# sshproxy.yaml",
        "---",
        `log: ${work}/session.log`,
        "check_interval: 10m # how long a host check counts",
        "ssh:",
        `  exe: ${truePath}`,
        "  args:",
        '    - "-q"',
        "    - -oBatchMode=yes",
        "environment:",
        "  SSHPROXY_PROFILE: 'yes'",
        `dest: ["127.0.0.1:${listener.addr.port}"]`,
        "",
      ].join("\n"),
    );
    const log = `${work}/v8.log`;
    let v8Log = "";
    // A command, then an interactive shell, each as the launcher starts
    // the proxy: with a plan file offered for hand-off, and sshd's pid.
    for (const command of ["true", undefined]) {
      const plan = `/tmp/sshproxy-plan.${crypto.randomUUID()}`;
      try {
        Deno.openSync(plan, { createNew: true, write: true, mode: 0o600 })
          .close();
      } catch (error) {
        fail(`cannot create ${plan}: ${String(error)}`);
      }
      const session = await new Deno.Command(deno, {
        args: [
          "run",
          "--no-prompt",
          "--quiet",
          `--v8-flags=${
            [
              v8Flags,
              "--log-function-events",
              `--logfile=${log}`,
              "--no-logfile-per-isolate",
            ].filter((flag) => flag !== "").join(",")
          }`,
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          "--allow-net",
          "--allow-sys",
          "--config",
          `${lib}/deno.json`,
          `${lib}/app/sshproxy.js`,
          `${work}/sshproxy.yaml`,
        ],
        clearEnv: true,
        env: {
          PATH: "/usr/bin:/bin",
          HOME: work,
          DENO_DIR: `${work}/cache`,
          DENO_NO_UPDATE_CHECK: "1",
          NO_COLOR: "1",
          SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22",
          SSHPROXY_ARGV0: "sshproxy",
          SSHPROXY_HANDOFF: plan,
          SSHPROXY_SSHD: String(Deno.pid),
          ...(command === undefined ? {} : { SSH_ORIGINAL_COMMAND: command }),
        },
        cwd: work,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      await Deno.remove(plan).catch(() => {});
      const sessionLog = await Deno.readTextFile(`${work}/session.log`)
        .catch(() => "");
      if (!session.success || !/ proxied to /.test(sessionLog)) {
        const words = new TextDecoder().decode(session.stderr).trim() ||
          sessionLog.trim();
        fail(
          `a stateless session of ${lib}/app/sshproxy.js failed (status ${session.code}): ${
            words.split("\n").at(-1) ?? ""
          }`,
        );
      }
      if (/WARNING|ERROR/.test(sessionLog)) {
        fail(
          `a stateless session of ${lib}/app/sshproxy.js logged: ${
            sessionLog.split("\n").find((line) => /WARNING|ERROR/.test(line))
          }`,
        );
      }
      await Deno.remove(`${work}/session.log`);
      v8Log += await Deno.readTextFile(log) + "\n";
      await Deno.remove(log);
    }
    const profile = profileFromLog(v8Log, `${lib}/app`);
    if (!profile["sshproxy.js"]) {
      fail(`V8's log names no function of ${lib}/app/sshproxy.js`);
    }
    await Deno.writeTextFile(output, JSON.stringify(profile) + "\n");
  } finally {
    listener.close();
    await Deno.remove(work, { recursive: true });
  }
}
