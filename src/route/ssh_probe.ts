// Health checks that need the destination to speak SSH (issue 4 item 3),
// besides the reference's bare TCP connect (health_check.ts):
//
// * `ssh`: after the TCP connection, the server's identification line
//   (RFC 4253 §4.2: `SSH-2.0-<software> [comments]`, possibly preceded by
//   other text lines) must arrive within the timeout. Plain TCP, no library.
// * `ssh-kex`: the whole key exchange must also complete within the
//   timeout, through the npm `ssh2` package (imported only then). No
//   authentication is attempted and the host key is not verified: the probe
//   only proves that sshd is alive enough to negotiate.
//
// A host that accepts connections but hangs (frozen sshd, MaxStartups full,
// a port forwarder whose backend is gone) is therefore `down`, where a bare
// TCP connect says `up`. Failure texts complete the INFO line
// `cannot connect to <D>: <err>`.
import { fail, ok, type Result } from "../result.ts";
import { deadline } from "../system/timers.ts";
import { describeDialError, joinHostPort } from "./health_check.ts";

/** Our identification line, sent back so that sshd logs a clean close. */
const PROBE_IDENTIFICATION = "SSH-2.0-sshproxy_health_check\r\n";
/** RFC 4253: lines before the identification; more than this is not SSH. */
const MAX_PREAMBLE_BYTES = 8192;

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * Connects to host:port and waits for its SSH identification line; the
 * whole probe (connect included) takes at most `timeoutMs`. Returns the
 * line (without CR LF).
 */
export async function sshBannerProbe(
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<Result<string>> {
  const address = joinHostPort(host, port);
  const timer = deadline(timeoutMs);
  const expired = timer.expired.then(() => "timeout" as const);
  const attempt = Deno.connect({ hostname: host, port, transport: "tcp" });
  let connection: Deno.TcpConn;
  try {
    const winner = await Promise.race([attempt, expired]);
    if (winner === "timeout") {
      attempt.then((late) => late.close(), () => {});
      timer.cancel();
      return fail(`dial tcp ${address}: i/o timeout`);
    }
    connection = winner;
  } catch (error) {
    timer.cancel();
    return fail(describeDialError(host, port, error));
  }
  try {
    const banner = await readIdentification(connection, expired, address);
    if (banner.ok) {
      // Best effort: a peer that got our line closes quietly.
      await Promise.race([
        connection.write(new TextEncoder().encode(PROBE_IDENTIFICATION)),
        expired,
      ]).catch(() => {});
    }
    if (!banner.ok && banner.error === "timeout") {
      return fail(
        `ssh ${address}: connected, but no SSH identification within ${
          seconds(timeoutMs)
        }`,
      );
    }
    return banner;
  } finally {
    timer.cancel();
    try {
      connection.close();
    } catch {
      // already closed
    }
  }
}

async function readIdentification(
  connection: Deno.TcpConn,
  expired: Promise<"timeout">,
  address: string,
): Promise<Result<string>> {
  const chunk = new Uint8Array(1024);
  let received = new Uint8Array(0);
  const decoder = new TextDecoder("utf-8", { fatal: false });
  for (;;) {
    // Complete lines received so far.
    let start = 0;
    for (let i = 0; i < received.length; i++) {
      if (received[i] !== 0x0a) continue;
      let line = decoder.decode(received.subarray(start, i));
      if (line.endsWith("\r")) line = line.slice(0, -1);
      start = i + 1;
      if (!line.startsWith("SSH-")) continue;
      const version = /^SSH-([^-]*)-/.exec(line)?.[1];
      if (version === "2.0" || version === "1.99") return ok(line);
      return fail(
        `ssh ${address}: unsupported SSH protocol version ${
          JSON.stringify(version ?? line)
        }`,
      );
    }
    if (received.length > MAX_PREAMBLE_BYTES) {
      return fail(`ssh ${address}: not an SSH server (${firstLine(received)})`);
    }
    let read: number | null | "timeout";
    try {
      read = await Promise.race([connection.read(chunk), expired]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return fail(`ssh ${address}: ${reason}`);
    }
    if (read === "timeout") return fail("timeout");
    if (read === null) {
      return fail(
        received.length === 0
          ? `ssh ${address}: connection closed before the SSH identification`
          : `ssh ${address}: not an SSH server (${firstLine(received)})`,
      );
    }
    const grown = new Uint8Array(received.length + read);
    grown.set(received);
    grown.set(chunk.subarray(0, read), received.length);
    received = grown;
  }
}

/** The part of ssh2's Client the probe uses (the package ships no types). */
interface Ssh2Client {
  on(event: string, listener: (...args: never[]) => void): unknown;
  connect(config: Record<string, unknown>): void;
  removeAllListeners(): void;
  end(): void;
  destroy(): void;
}

function firstLine(bytes: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(0, 80),
  );
  return `sent ${JSON.stringify(text.split("\n")[0].replace(/\r$/, ""))}`;
}

/**
 * A complete SSH key exchange with host:port through `ssh2` (imported on
 * first use), within `timeoutMs` (the import is not counted). Returns the
 * server's identification software version.
 */
export async function sshKexProbe(
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<Result<string>> {
  const address = joinHostPort(host, port);
  let Client: new () => Ssh2Client;
  try {
    ({ Client } = await import("ssh2") as { Client: new () => Ssh2Client });
  } catch (error) {
    return fail(`ssh ${address}: cannot load the ssh2 package: ${error}`);
  }
  return await new Promise<Result<string>>((resolve) => {
    const client = new Client();
    let settled = false;
    const finish = (result: Result<string>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeAllListeners();
      client.on("error", () => {});
      client.end();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish(
        fail(
          `ssh ${address}: no complete SSH key exchange within ${
            seconds(timeoutMs)
          }`,
        ),
      );
      client.destroy();
    }, timeoutMs);
    // ssh2 keeps the server's software version in a private field.
    const remote = client as unknown as { _remoteVer?: string };
    client.on("handshake", () => finish(ok(remote._remoteVer ?? "")));
    client.on("error", (error: Error & { code?: string }) => {
      const refused = error.code === "ECONNREFUSED";
      finish(
        fail(
          refused
            ? `dial tcp ${address}: connect: connection refused`
            : error.code === "ENOTFOUND"
            ? `dial tcp: lookup ${host}: no such host`
            : `ssh ${address}: key exchange failed: ${error.message}`,
        ),
      );
    });
    client.on("close", () =>
      finish(
        fail(`ssh ${address}: connection closed during the key exchange`),
      ));
    try {
      client.connect({
        host,
        port,
        username: "sshproxy-health-check",
        readyTimeout: 0,
        ident: "sshproxy_health_check",
        hostVerifier: () => true,
        tryKeyboard: false,
      });
    } catch (error) {
      finish(fail(`ssh ${address}: ${error}`));
    }
  });
}
