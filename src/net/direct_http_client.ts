// An HTTP client for Deno's fetch that never goes through a proxy, whatever
// the environment says.
//
// Deno's `Deno.createHttpClient` always reads the proxy variables of the
// process environment when the client is created (ext/fetch/proxy.rs
// `from_env`: ALL_PROXY/all_proxy, HTTPS_PROXY/https_proxy, and
// HTTP_PROXY/http_proxy unless REQUEST_METHOD is set; NO_PROXY/no_proxy
// only exempts hosts). A `proxy` option is put in front of them, never
// instead: no option turns them off. The proxy runs with the environment
// sshd gives the logged-in user, so a user could otherwise send the
// gateway's etcd traffic (and its credentials) to a listener of their own.
//
// So the variables are blanked for the instant the client is built and put
// back at once: the client keeps what it read, and the session's children
// (ssh, the admin's commands) still inherit them unchanged. A variable that
// is set is replaced by "" (which Deno ignores as an unparsable proxy URL)
// rather than removed, so the C environment array is never resized while
// another thread might read it: setenv on an existing name swaps one
// pointer in place. Unset variables are not touched. The whole exchange is
// synchronous, so no child process can be spawned from JavaScript while
// the variables are blank.

/** The variables Deno's fetch reads a proxy from, exactly as spelt there. */
export const PROXY_VARIABLES: readonly string[] = [
  "ALL_PROXY",
  "all_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
];

function readVariable(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Not Unicode: Deno's own reader (Rust's env::var) skips it too.
    return undefined;
  }
}

/**
 * `Deno.createHttpClient(options)` built while no proxy variable is in
 * effect. Throws what createHttpClient throws (bad TLS material), or an
 * error naming the variable it could not blank (no --allow-env): then no
 * client is made, rather than one that may use a proxy.
 */
export function createDirectHttpClient(
  options: Deno.CreateHttpClientOptions,
): Deno.HttpClient {
  const saved: [string, string][] = [];
  try {
    for (const name of PROXY_VARIABLES) {
      const value = readVariable(name);
      if (value === undefined || value === "") continue;
      try {
        Deno.env.set(name, "");
      } catch (error) {
        throw new Error(
          `cannot keep the proxy variable ${name} away from the etcd client: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
      saved.push([name, value]);
    }
    return Deno.createHttpClient(options);
  } finally {
    for (const [name, value] of saved) Deno.env.set(name, value);
  }
}
