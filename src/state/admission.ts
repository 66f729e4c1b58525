// `max_connections_per_user` that holds under a burst (spec §5.7, issue 12):
// a session registers first, then ranks its own connection key among the
// user's keys by the revision etcd created them at. It is admitted iff
// fewer than `limit` keys were created before its own, so sessions that
// register at the same moment agree on who came first, and the limit is
// never exceeded by sessions that all count after registering. Pure.

/** A connection key and, when the backend reports it, the revision that created it. */
export interface RankedKey {
  key: string;
  /** Decimal etcd revision. */
  createRevision?: string;
}

/** The verdict for one session. */
export interface Admission {
  /** Keys of the user created before the session's own. */
  before: number;
  admitted: boolean;
}

/**
 * Ranks `own` among `keys` (the user's connection keys, own included).
 * Errs on the side of the limit: a key whose revision is unknown counts
 * as earlier, and when `own` is missing (its lease lapsed meanwhile) or
 * has no revision, every other key counts.
 */
export function rankConnection(
  keys: readonly RankedKey[],
  own: string,
  limit: number,
): Admission {
  const ownRevision = revision(keys.find((k) => k.key === own));
  let before = 0;
  for (const other of keys) {
    if (other.key === own) continue;
    const otherRevision = revision(other);
    if (
      ownRevision === undefined || otherRevision === undefined ||
      otherRevision < ownRevision
    ) {
      before++;
    }
  }
  return { before, admitted: before < limit };
}

function revision(key: RankedKey | undefined): bigint | undefined {
  const text = key?.createRevision;
  return text !== undefined && /^\d{1,20}$/.test(text)
    ? BigInt(text)
    : undefined;
}
