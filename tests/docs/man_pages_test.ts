// The man pages render cleanly with the system's man-db (no warning at 80
// columns, nothing wider than the terminal) and do not drift from the code:
// every configuration key, sshproxyctl command and SSHPROXY_ARGS option the
// program knows is documented.
import assert from "node:assert/strict";
import { CTL_COMMANDS, SHOW_FLAGS } from "../../src/cli/ctl_usage.ts";
import { SETTINGS_KEYS } from "../../src/config/settings.ts";
import { buildSshCommand } from "../../src/session/ssh_command.ts";

const MAN_DIR = new URL("../../man/", import.meta.url);

const PAGES: [file: string, name: string, section: string][] = [
  ["sshproxy.8", "SSHPROXY", "8"],
  ["sshproxyctl.8", "SSHPROXYCTL", "8"],
  ["sshproxy.yaml.5", "SSHPROXY.YAML", "5"],
  ["sshproxy-dumpd.8", "SSHPROXY-DUMPD", "8"],
  ["sshproxy-replay.1", "SSHPROXY-REPLAY", "1"],
  ["sshproxy-agent.8", "SSHPROXY-AGENT", "8"],
];

interface Rendered {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Renders a page as `MANWIDTH=80 man -l FILE` does, stdout on a pipe (so man
 * keeps groff's messages). `allWarnings` adds `--warnings=w`: every groff
 * warning category, undefined macros included, where plain `man -l` only
 * reports layout problems such as a line that cannot be broken.
 */
async function renderWithMan(
  path: string,
  allWarnings = false,
): Promise<Rendered> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("man", {
      args: [...(allWarnings ? ["--warnings=w"] : []), "-l", path],
      env: { MANWIDTH: "80", LC_ALL: "C.UTF-8", MANPAGER: "cat", PAGER: "cat" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      assert.fail(
        "the `man` command is missing: install the Debian package man-db " +
          "(apt-get install man-db), which renders and checks the man pages",
      );
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    code: output.code,
  };
}

function pagePath(file: string): string {
  return new URL(file, MAN_DIR).pathname;
}

function pageSource(file: string): string {
  return Deno.readTextFileSync(new URL(file, MAN_DIR));
}

for (const [file, name, section] of PAGES) {
  Deno.test(`man -l renders ${file} at 80 columns without any warning`, async () => {
    const rendered = await renderWithMan(pagePath(file));
    assert.equal(rendered.stderr, "", `man printed warnings for ${file}`);
    assert.equal(rendered.code, 0);
    const strict = await renderWithMan(pagePath(file), true);
    assert.equal(strict.stderr, "", `man --warnings=w complains about ${file}`);
    assert.equal(strict.stdout, rendered.stdout);
    assert.notEqual(rendered.stdout.trim(), "");
    const lines = rendered.stdout.split("\n");
    assert.match(lines[0], new RegExp(`^${name}\\(${section}\\) `));
    for (
      const heading of [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
      ]
    ) {
      if (file === "sshproxy.yaml.5" && heading === "EXIT STATUS") continue;
      assert.ok(
        lines.includes(heading),
        `${file} has no ${heading} section`,
      );
    }
    for (const line of lines) {
      assert.ok(
        [...line].length <= 80,
        `${file}: rendered line wider than 80 columns: ${line}`,
      );
    }
  });
}

Deno.test("the render checks do catch roff mistakes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const header = ".TH BROKEN 1\n.SH NAME\nbroken \\- test\n.SH DESCRIPTION\n";
    const unbreakable = `${dir}/unbreakable.1`;
    await Deno.writeTextFile(
      unbreakable,
      `${header}.TP\n.B x\n${"a".repeat(120)}\n`,
    );
    assert.match((await renderWithMan(unbreakable)).stderr, /can't break line/);
    const macro = `${dir}/macro.1`;
    await Deno.writeTextFile(macro, `${header}text\n.XYZ "undefined"\n`);
    assert.match(
      (await renderWithMan(macro, true)).stderr,
      /macro 'XYZ' not defined/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sshproxy.yaml(5) documents every configuration key", () => {
  const source = pageSource("sshproxy.yaml.5");
  const documented = new Set(
    [...source.matchAll(/^\.TP\n\.B (\S+)$/gm)].map((match) => match[1]),
  );
  const expected = [
    ...SETTINGS_KEYS,
    "overrides",
    // etcd, ssh and translate_commands sub-keys
    "endpoints",
    "tls",
    "username",
    "password",
    "keyttl",
    "mandatory",
    "exe",
    "args",
    "ssh_args",
    "command",
    "disable_dump",
  ];
  for (const key of expected) {
    assert.ok(
      documented.has(key),
      `sshproxy.yaml(5) lacks an entry for ${key}`,
    );
  }
  for (const pattern of ["{user}", "{sid}", "{time}"]) {
    assert.ok(source.includes(`.B ${pattern}`), `no entry for ${pattern}`);
  }
  for (const condition of ["users:", "groups:", "sources:"]) {
    assert.ok(source.includes(`.BI ${condition} " list"`));
  }
});

Deno.test("sshproxyctl(8) documents every command and show option", () => {
  const source = pageSource("sshproxyctl.8");
  const subsections = [...source.matchAll(/^\.SS (\S+)/gm)].map((m) => m[1]);
  for (const [command] of CTL_COMMANDS) {
    assert.ok(
      subsections.includes(command),
      `sshproxyctl(8) has no subsection for ${command}`,
    );
  }
  for (const flag of SHOW_FLAGS) {
    assert.ok(
      source.includes(`\\fB\\-${flag.name}\\fR`),
      `sshproxyctl(8) never shows -${flag.name}`,
    );
  }
  for (
    const subcommand of [
      "show connections",
      "show hosts",
      "show users",
      "show groups",
      "show error_banner",
      "show config",
      "forget host",
      "forget error_banner",
      "forget persist",
    ]
  ) {
    assert.match(source, new RegExp(`^\\.SS ${subcommand}\\b`, "m"));
  }
  for (
    const flag of ["-all", "-host", "-port", "-user", "-service", "-expire"]
  ) {
    assert.ok(
      source.includes(`\\${flag}`),
      `sshproxyctl(8) never shows ${flag}`,
    );
  }
});

Deno.test("sshproxy(8) lists the environment and the SSHPROXY_ARGS allow-list", () => {
  const source = pageSource("sshproxy.8");
  for (
    const variable of [
      "SSH_CONNECTION",
      "SSH_ORIGINAL_COMMAND",
      "SSH_USER_AUTH",
      "SSHPROXY_ARGS",
      "PATH",
    ]
  ) {
    assert.match(source, new RegExp(`^\\.TP\\n\\.B ${variable}$`, "m"));
  }
  // The environment never chooses where routing data comes from.
  assert.ok(!source.includes("SSHPROXY_CLUSTERSHELL_CONFDIR"));
  // Exactly the single-letter options the session code lets through.
  const allowed = [
    ..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  ]
    .filter((letter) =>
      buildSshCommand({
        config: {
          ssh: { exe: "ssh", args: [] },
          sshConfig: "",
          forceCommand: "",
          commandMustMatch: false,
          translateCommands: new Map(),
          dump: "",
        },
        originalCommand: "",
        sshproxyArgs: `-${letter}`,
        destination: { host: "server1", port: 22 },
        stdoutIsTerminal: false,
      }).ok
    );
  assert.ok(allowed.length > 0);
  const section = source.slice(
    source.indexOf(".TP\n.B SSHPROXY_ARGS\n"),
    source.indexOf(".TP\n.B PATH\n"),
  );
  const accepted = section.slice(0, section.indexOf("alone or grouped"));
  const listed = [...accepted.matchAll(/^\.BR? \\-(\S)\b/gm)].map((m) => m[1]);
  assert.deepEqual([...listed].sort(), [...allowed].sort());
});

/** The flag names a face lists in its `-h` usage text. */
async function faceFlags(face: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../../main.ts", import.meta.url).pathname,
      face,
      "-h",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const usage = new TextDecoder().decode(output.stderr);
  return [...usage.matchAll(/^ {2}-(\S+)/gm)].map((match) => match[1]);
}

for (
  const [face, file] of [
    ["proxy", "sshproxy.8"],
    ["dumpd", "sshproxy-dumpd.8"],
    ["replay", "sshproxy-replay.1"],
    ["agent", "sshproxy-agent.8"],
  ]
) {
  Deno.test(`${file} has an OPTIONS entry for every flag of \`${face} -h\``, async () => {
    const flags = await faceFlags(face);
    assert.ok(flags.includes("version"), `no flags parsed for ${face}`);
    const source = pageSource(file);
    const options = source.slice(
      source.indexOf(".SH OPTIONS"),
      source.indexOf(".SH", source.indexOf(".SH OPTIONS") + 1),
    );
    for (const flag of flags) {
      const roff = flag.replaceAll("-", "\\\\-");
      assert.match(
        options,
        new RegExp(`^\\.TP\\n\\.BI? \\\\-${roff}\\b`, "m"),
        `${file} does not document -${flag}`,
      );
    }
  });
}

Deno.test("every page names the others in SEE ALSO", () => {
  const names = PAGES.map(([file]) => file.replace(/\.(\d)$/, "($1)"));
  for (const [file] of PAGES) {
    const source = pageSource(file);
    const seeAlso = source.slice(source.indexOf(".SH SEE ALSO"));
    const self = file.replace(/\.(\d)$/, "($1)");
    for (const other of names) {
      if (other === self) continue;
      const [page, section] = other.split("(");
      assert.ok(
        seeAlso.includes(`.BR ${page.replaceAll("-", "\\-")} (${section}`),
        `${file}: SEE ALSO lacks ${other}`,
      );
    }
  }
});
