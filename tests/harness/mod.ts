/** End-to-end test harness: real sshd/etcd on loopback and test accounts. */

export {
  type CommandResult,
  makeSharedTempDir,
  run,
  type RunningCommand,
  type RunOptions,
  sleep,
} from "./process.ts";
export { freePort, freePorts, waitForPort } from "./net.ts";
export {
  ensureTestAccounts,
  GROUPS,
  removeTestAccount,
  runAs,
  spawnAs,
  type TestAccount,
  type TestUser,
  USERS,
} from "./users.ts";
export { SSH_OPTIONS, sshArgv, sshAs, type SshTarget } from "./ssh.ts";
export {
  type Destination,
  findSftpServer,
  type Gateway,
  GATEWAY_ROLES,
  type GatewayRole,
  type ListenAddress,
  type ServerName,
  type Sshd,
  type SshdOptions,
  startSshd,
  startTopology,
  type Topology,
  type TopologyOptions,
} from "./sshd.ts";
export {
  type Etcd,
  type EtcdAuth,
  type EtcdIdentity,
  type EtcdOptions,
  etcdSettings,
  type EtcdTlsFiles,
  startEtcd,
} from "./etcd.ts";
