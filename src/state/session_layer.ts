// The state layer as a session loads it: one dynamic import
// (src/session/shared_state.ts) brings the store, its etcd client and the
// helpers of the session's choice and registration, which the prebuilt
// program keeps as one part of its own (scripts/bundle.sh): a session
// without etcd never loads it, one with etcd opens it once.
export {
  effectiveKeyTtl,
  firstRoutingLists,
  localNow,
  StateStore,
} from "./store.ts";
export { destinationLoads } from "./aggregate.ts";
export { rankConnection } from "./admission.ts";
export { nextDelay } from "./registration.ts";
