// Deno loads its process API (Deno.Command, Deno.kill) on first use: ~2.3
// ms of the main thread per login (measured on 2 cores), which every
// session pays before its ssh starts. A session that waits for etcd or for
// the gateway's agent calls this right after sending its request, so that
// the load runs while the answer is on its way instead of after it.

/** Loads Deno's process API now, if it is not loaded yet. */
export function preloadProcessApi(): void {
  // Reading the property is what loads it.
  if (typeof Deno.Command !== "function") {
    throw new Error("this runtime has no Deno.Command");
  }
}
