// The user's original command (spec §5.10). sshd gives precedence to its own
// ForceCommand (sshproxy) over a certificate's `force-command`, so the
// reference recovers the latter from the SSH_USER_AUTH file (sshd's
// `ExposeAuthInfo yes`) and runs it on the destination instead.
import type { Result } from "../result.ts";
import { parseAuthorizedKey } from "./authorized_key.ts";

/** The command to run for the user and how it was found. */
export interface OriginalCommand {
  command: string;
  /** Whether it came from the certificate's `force-command`. */
  forced: boolean;
  /** WARNING lines (unreadable SSH_USER_AUTH file, unparseable key). */
  warnings: string[];
  /** The DEBUG line: `original command = X` or `original command (forced) = X`. */
  debugLine: string;
}

const PREFIX = "publickey ";

/** Picks the certificate's force-command from the SSH_USER_AUTH content (if any), else SSH_ORIGINAL_COMMAND. */
export function originalCommand(
  /** The SSH_USER_AUTH file as the caller read it; undefined when the variable is unset or empty. */
  userAuth: Result<string> | undefined,
  sshOriginalCommand: string,
): OriginalCommand {
  const warnings: string[] = [];
  const forced = userAuth === undefined
    ? undefined
    : forceCommand(userAuth, warnings);
  if (forced !== undefined) {
    return {
      command: forced,
      forced: true,
      warnings,
      debugLine: `original command (forced) = ${forced}`,
    };
  }
  return {
    command: sshOriginalCommand,
    forced: false,
    warnings,
    debugLine: `original command = ${sshOriginalCommand}`,
  };
}

function forceCommand(
  userAuth: Result<string>,
  warnings: string[],
): string | undefined {
  if (!userAuth.ok) {
    warnings.push(userAuth.error);
    return undefined;
  }
  // Other methods (`password`, `keyboard-interactive`...) carry no key.
  if (!userAuth.value.startsWith(PREFIX)) return undefined;
  const key = parseAuthorizedKey(userAuth.value.slice(PREFIX.length));
  if (!key.ok) {
    warnings.push(key.error);
    return undefined;
  }
  const command = key.value.criticalOptions?.get("force-command");
  return command === "" ? undefined : command;
}
