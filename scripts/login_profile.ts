// Which of our functions a login runs: scripts/install.sh runs three
// sessions of the freshly built login face (a command and a shell without
// etcd, a command with an etcd of its own, in memory), as the launcher starts
// it (a plan file offered for hand-off, sshd's pid) and with a file written
// as sites write theirs, to listeners of its own on loopback, with `true`
// as the ssh client and V8 logging its function events, and writes, for
// each module of app/ the sessions loaded, where the functions they
// compiled start. scripts/eager_compile.ts then compiles those with their
// module (into the code cache) and leaves the others to V8's lazy
// compilation: a function no login runs keeps no bytecode in every idle
// session (by hand: 10.41 against 10.64 MiB private dirty with every
// function compiled). A session that runs one of the others (a rarer
// configuration key, an error) compiles it when it runs.
//
// The sessions are the product's own: if one fails or logs a warning, the
// build is broken, and the install stops with its last words.
//
//   deno run --allow-read --allow-write --allow-run --allow-net \
//     scripts/login_profile.ts DENO LIB V8_FLAGS PERMISSIONS PROFILE.json
//
// LIB holds deno.json and app/ (scripts/bundle.sh's output); V8_FLAGS and
// PERMISSIONS (one argument, flags separated by spaces) are the login
// face's, as the launcher passes them (scripts/runtime_flags.sh).

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

/** The keys of a gateway's etcd: key -> value (UTF-8). */
export type EtcdKeys = Map<string, string>;

const latin1 = (base64: unknown) =>
  typeof base64 === "string" ? atob(base64) : "";
const encode = (text: string) =>
  btoa(String.fromCharCode(...new TextEncoder().encode(text)));

/**
 * A small etcd v3 JSON gateway over `keys` (the requests a login makes:
 * ranges, puts, deletions, transactions of those, leases), so that the
 * profile's etcd session reads and writes keys as on a busy gateway
 * without an etcd at install. Keys compare as bytes (latin1 strings of
 * the UTF-8 bytes), as etcd compares them.
 */
export function etcdGateway(
  keys: EtcdKeys,
): (request: Request) => Promise<Response> {
  const bytes = new Map<string, string>(
    [...keys].map(([key, value]) => [latin1(encode(key)), value]),
  );
  const header = { revision: "7" };
  const inRange = (key: string, operation: Record<string, unknown>) => {
    const start = latin1(operation.key);
    const end = latin1(operation.range_end);
    if (end === "") return key === start;
    return key >= start && (end === "\0" || key < end);
  };
  const range = (operation: Record<string, unknown>) => {
    const limit = Number(operation.limit ?? 0);
    const matching = [...bytes.keys()].filter((key) => inRange(key, operation))
      .sort();
    const kept = limit > 0 ? matching.slice(0, limit) : matching;
    return {
      count: String(matching.length),
      more: kept.length < matching.length,
      kvs: kept.map((key) => ({
        key: btoa(key),
        ...(operation.keys_only ? {} : { value: encode(bytes.get(key)!) }),
        create_revision: "5",
        mod_revision: "6",
        version: "1",
        // Sessions and history live under leases; host states do not.
        lease: key.startsWith("/sshproxy/hosts/") ? "0" : "7587",
      })),
    };
  };
  const put = (operation: Record<string, unknown>) => {
    bytes.set(
      latin1(operation.key),
      new TextDecoder().decode(
        Uint8Array.from(latin1(operation.value), (c) => c.charCodeAt(0)),
      ),
    );
    return {};
  };
  const remove = (operation: Record<string, unknown>) => {
    const gone = [...bytes.keys()].filter((key) => inRange(key, operation));
    for (const key of gone) bytes.delete(key);
    return { deleted: String(gone.length) };
  };
  return async (request) => {
    const body = await request.json().catch(() => ({}));
    const answer = (value: Record<string, unknown>) =>
      Response.json({ header, ...value });
    switch (new URL(request.url).pathname) {
      case "/v3/kv/range":
        return answer(range(body));
      case "/v3/kv/put":
        return answer(put(body));
      case "/v3/kv/deleterange":
        return answer(remove(body));
      case "/v3/kv/txn": {
        const operations: Record<string, Record<string, unknown>>[] =
          Array.isArray(body.success) ? body.success : [];
        return answer({
          succeeded: true,
          responses: operations.map((operation) =>
            operation.request_range
              ? { response_range: range(operation.request_range) }
              : operation.request_put
              ? { response_put: put(operation.request_put) }
              : {
                response_delete_range: remove(
                  operation.request_delete_range ?? {},
                ),
              }
          ),
        });
      }
      case "/v3/lease/grant":
        return answer({ ID: "7587", TTL: String(body.TTL ?? "5") });
      case "/v3/lease/keepalive":
        return Response.json({ result: { header, ID: "7587", TTL: "5" } });
      case "/v3/lease/timetolive":
        return answer({ ID: "7587", TTL: "5", grantedTTL: "5" });
      case "/v3/lease/revoke":
        return answer({});
      default:
        return Response.json({ error: "not found", code: 5 }, { status: 404 });
    }
  };
}

/** Runs the profile's sessions of the build in `lib`; writes `output`. */
async function profileLogin(
  deno: string,
  lib: string,
  v8Flags: string,
  permissions: string[],
  output: string,
): Promise<void> {
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const work = await Deno.makeTempDir({ prefix: "sshproxy-profile-" });
  const listeners: Deno.TcpListener[] = [];
  let etcd: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    // Two destinations: answer like an sshd, then hang up.
    try {
      for (const _ of [0, 1]) {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
      }
    } catch (error) {
      fail(`cannot listen on 127.0.0.1: ${String(error)}`);
    }
    const destinations = listeners.map((listener) =>
      `127.0.0.1:${listener.addr.port}`
    );
    // As on a busy gateway: both hosts checked lately, sessions of others
    // on them, the user's last destination remembered.
    const now = new Date().toISOString().replace("Z", "123456Z");
    // The install runs as root: the user the sessions run as.
    const user = "root";
    etcd = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      etcdGateway(
        new Map([
          ...destinations.map((host): [string, string] => [
            `/sshproxy/hosts/${host}`,
            JSON.stringify({ State: "up", Ts: now }),
          ]),
          [
            `/sshproxy/connections/someone@default/${
              destinations[1]
            }/127.0.0.1:22/${now}`,
            '{"In":1024,"Out":2048}',
          ],
          [
            `/sshproxy/connections/other@default/${
              destinations[0]
            }/127.0.0.1:22/${now}`,
            '{"In":0,"Out":0}',
          ],
          [`/sshproxy/history/${user}@default/7587`, destinations[1]],
        ]),
      ),
    );
    for (const listener of listeners) {
      (async () => {
        for await (const connection of listener) {
          connection.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"))
            .catch(() => {}).finally(() => connection.close());
        }
      })().catch(() => {});
    }
    const truePath = ["/usr/bin/true", "/bin/true"].find((path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    }) ?? fail("no /usr/bin/true or /bin/true to stand for ssh");
    // Written as sites write theirs: comments, plain and quoted scalars,
    // block and flow lists, a nested mapping.
    const stateless = [
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
    ];
    const [first, second] = destinations.map((host) => `"${host}"`);
    await Deno.writeTextFile(
      `${work}/stateless.yaml`,
      [...stateless, `dest: [${first}]`, ""].join("\n"),
    );
    await Deno.writeTextFile(
      `${work}/etcd.yaml`,
      [
        ...stateless,
        `dest: [${first}, ${second}]`,
        "mode: sticky",
        "route_select: connections",
        "etcd:",
        `  endpoints: ["http://127.0.0.1:${etcd.addr.port}"]`,
        "  keyttl: 5",
        "etcd_keyttl: 3600",
        "",
      ].join("\n"),
    );
    // sshd's ExposeAuthInfo file, as the README's gateway has it: every
    // login reads it and parses the key it names (a plain ed25519 key: the
    // blob is its type and 32 bytes, which is all the parser looks at).
    const userAuth = `${work}/user-auth`;
    // An SSH wire string: its length (32 bits, big-endian), then itself.
    const wireString = (bytes: Uint8Array) => [0, 0, 0, bytes.length, ...bytes];
    const blob = new Uint8Array([
      ...wireString(new TextEncoder().encode("ssh-ed25519")),
      ...wireString(new Uint8Array(32).fill(7)),
    ]);
    await Deno.writeTextFile(
      userAuth,
      `publickey ssh-ed25519 ${blob.toBase64()}\n`,
    );
    const log = `${work}/v8.log`;
    let v8Log = "";
    // A command, an interactive shell, and a command with etcd, each as
    // the launcher starts the proxy: with a plan file offered for
    // hand-off, and sshd's pid.
    const sessions: [string, string | undefined][] = [
      ["stateless.yaml", "true"],
      ["stateless.yaml", undefined],
      ["etcd.yaml", "true"],
    ];
    for (const [config, command] of sessions) {
      // As the launcher: no plan when /tmp cannot take one.
      let plan: string | undefined =
        `/tmp/sshproxy-plan.${crypto.randomUUID()}`;
      try {
        Deno.openSync(plan, { createNew: true, write: true, mode: 0o600 })
          .close();
      } catch {
        plan = undefined;
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
          ...permissions,
          "--config",
          `${lib}/deno.json`,
          `${lib}/app/sshproxy.js`,
          `${work}/${config}`,
        ],
        clearEnv: true,
        env: {
          PATH: "/usr/bin:/bin",
          HOME: work,
          DENO_DIR: `${work}/cache`,
          DENO_NO_UPDATE_CHECK: "1",
          NO_COLOR: "1",
          SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22",
          SSH_USER_AUTH: userAuth,
          SSHPROXY_ARGV0: "sshproxy",
          ...(plan === undefined ? {} : { SSHPROXY_HANDOFF: plan }),
          SSHPROXY_SSHD: String(Deno.pid),
          ...(command === undefined ? {} : { SSH_ORIGINAL_COMMAND: command }),
        },
        cwd: work,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      if (plan !== undefined) await Deno.remove(plan).catch(() => {});
      const sessionLog = await Deno.readTextFile(`${work}/session.log`)
        .catch(() => "");
      if (!session.success || !/ proxied to /.test(sessionLog)) {
        const words = new TextDecoder().decode(session.stderr).trim() ||
          sessionLog.trim();
        fail(
          `a session of ${lib}/app/sshproxy.js with ${config} failed (status ${session.code}): ${
            words.split("\n").at(-1) ?? ""
          }`,
        );
      }
      if (/WARNING|ERROR/.test(sessionLog)) {
        fail(
          `a session of ${lib}/app/sshproxy.js with ${config} logged: ${
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
    for (const listener of listeners) listener.close();
    await etcd?.shutdown();
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const [deno, lib, v8Flags, permissions, output] = Deno.args;
  if (output === undefined || Deno.args.length !== 5) {
    console.error(
      "usage: login_profile.ts DENO LIB V8_FLAGS PERMISSIONS PROFILE.json",
    );
    Deno.exit(2);
  }
  try {
    await profileLogin(
      deno,
      lib,
      v8Flags,
      permissions.split(" ").filter((flag) => flag !== ""),
      output,
    );
  } catch (error) {
    console.error(
      `login_profile: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    Deno.exit(1);
  }
}
