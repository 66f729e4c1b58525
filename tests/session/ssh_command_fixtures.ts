// Test helper: the configuration slice buildSshCommand reads, with the
// reference's defaults.
import type { SshCommandInput } from "../../src/session/ssh_command.ts";

/** A buildSshCommand input with default settings, overridable piecewise. */
export function sshInput(
  overrides: Partial<Omit<SshCommandInput, "config">> & {
    config?: Partial<SshCommandInput["config"]>;
  } = {},
): SshCommandInput {
  const { config, ...rest } = overrides;
  return {
    config: {
      ssh: { exe: "ssh", args: ["-q", "-Y"] },
      sshConfig: "",
      forceCommand: "",
      commandMustMatch: false,
      translateCommands: new Map(),
      dump: "",
      ...config,
    },
    originalCommand: "",
    sshproxyArgs: "",
    destination: { host: "server1", port: 22 },
    stdoutIsTerminal: false,
    ...rest,
  };
}
