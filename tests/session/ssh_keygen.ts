// Test helper: real OpenSSH keys and certificates made by ssh-keygen, and
// SSH_USER_AUTH content written the way sshd writes it.

/** Runs ssh-keygen, failing loudly when it is missing or refuses. */
export async function sshKeygen(args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("ssh-keygen", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(
      `these tests need ssh-keygen (Debian package openssh-client): ${error}`,
    );
  }
  if (!output.success) {
    throw new Error(
      `ssh-keygen ${args.join(" ")}: ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
}

/** A fresh key pair in `dir`; returns the public key line. */
export async function newKey(
  dir: string,
  name: string,
  typeArgs: string[],
): Promise<string> {
  await sshKeygen([
    "-q",
    ...typeArgs,
    "-N",
    "",
    "-C",
    name,
    "-f",
    `${dir}/${name}`,
  ]);
  return (await Deno.readTextFile(`${dir}/${name}.pub`)).trim();
}

/** Signs `dir/name.pub` with the CA key `dir/ca` and returns the certificate line. */
export async function certify(
  dir: string,
  name: string,
  options: string[],
): Promise<string> {
  const optionArgs = options.flatMap((option) => ["-O", option]);
  await sshKeygen([
    "-q",
    "-s",
    `${dir}/ca`,
    "-I",
    "id",
    "-n",
    "user",
    ...optionArgs,
    `${dir}/${name}.pub`,
  ]);
  return (await Deno.readTextFile(`${dir}/${name}-cert.pub`)).trim();
}

/** The SSH_USER_AUTH content sshd writes for a public key: `publickey <type> <base64>`. */
export function userAuthFor(keyLine: string): string {
  const [type, base64] = keyLine.split(" ");
  return `publickey ${type} ${base64}\n`;
}

/** Runs `body` with a temporary directory removed afterwards. */
export async function inTempDir(
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-session-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
