// Who a uid is, for the agent's decisions that need its groups (or a name
// /etc/passwd does not give: src/agent/user_names.ts), without a fork of
// `id` at every login: the helper's answer (src/agent/helper.ts: the name service, as a
// session's own `id` asks it) is reused for IDENTITY_CACHE_MS, and logins
// of one uid that arrive while it is being looked up share that lookup (a
// burst of one user's logins costs one `id`). Failures are not kept: the
// next login asks again.
//
// The price, documented in sshproxy-agent(8): a change of a user's groups
// in the name service takes effect for routing within IDENTITY_CACHE_MS
// (the reference, and a session without agent, see it at the next login).
// A renamed user is safe at once: the session sends the name its own `id`
// gave, and a name that differs from the cached one is a fallback.
import type { Result } from "../result.ts";
import type { UserIdentity } from "../system/identity.ts";

/** How long a uid's name and groups are reused, ms. */
export const IDENTITY_CACHE_MS = 5000;

// Distinct uids kept at most (a gateway's active users); the oldest go first.
const MAX_ENTRIES = 10_000;

interface Entry {
  identity: UserIdentity;
  atMs: number;
}

/** A uid's identity, looked up at most once per IDENTITY_CACHE_MS. */
export class IdentityCache {
  readonly #lookup: (uid: number) => Promise<Result<UserIdentity>>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<number, Entry>();
  readonly #pending = new Map<number, Promise<Result<UserIdentity>>>();

  constructor(
    lookup: (uid: number) => Promise<Result<UserIdentity>>,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.#lookup = lookup;
    this.#ttlMs = options.ttlMs ?? IDENTITY_CACHE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The identity of `uid`: kept, being looked up, or looked up now. */
  get(uid: number): Promise<Result<UserIdentity>> {
    const entry = this.#entries.get(uid);
    if (entry !== undefined && this.#now() - entry.atMs < this.#ttlMs) {
      return Promise.resolve({ ok: true, value: entry.identity });
    }
    const pending = this.#pending.get(uid);
    if (pending !== undefined) return pending;
    const startedMs = this.#now();
    const lookup = this.#lookup(uid).then((found) => {
      this.#pending.delete(uid);
      if (found.ok) this.#keep(uid, { identity: found.value, atMs: startedMs });
      else this.#entries.delete(uid);
      return found;
    });
    this.#pending.set(uid, lookup);
    return lookup;
  }

  #keep(uid: number, entry: Entry): void {
    this.#entries.delete(uid);
    this.#entries.set(uid, entry);
    // Map order is insertion order: the oldest answers go first.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= MAX_ENTRIES) break;
      this.#entries.delete(key);
    }
  }
}
