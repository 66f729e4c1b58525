// Where ClusterShell's configuration is, when the file does not say: a
// module of its own so that the configuration engine can name it without
// loading the group reader (clustershell.ts), which a login loads only
// when its file names a group.

/** ClusterShell's system-wide configuration directory. */
export const DEFAULT_CLUSTERSHELL_CONFDIR = "/etc/clustershell";
