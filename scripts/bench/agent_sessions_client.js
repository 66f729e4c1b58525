// For scripts/bench/agent_alone.ts: registers `count` sleeping processes of the
// user running it as sessions of the gateway agent, through the agent's
// protocol (identity proof included), then stays until killed. Plain
// JavaScript without imports, so a test user runs it with the installed
// Deno. Argument: JSON {socket, config, sshd, count}.
const { socket, config, sshd, count } = JSON.parse(Deno.args[0]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function ask(pid) {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const buffer = new Uint8Array(65536);
  let text = "";
  const line = async () => {
    while (!text.includes("\n")) {
      const n = await conn.read(buffer);
      if (n === null) return null;
      text += decoder.decode(buffer.subarray(0, n));
    }
    const index = text.indexOf("\n");
    const first = text.slice(0, index);
    text = text.slice(index + 1);
    return first;
  };
  const hello = JSON.parse(await line());
  const file = Deno.openSync(`${hello.proofDir}/${hello.nonce}`, {
    createNew: true,
    write: true,
    mode: 0o600,
  });
  file.close();
  const uid = Deno.uid();
  const user = new TextDecoder().decode(
    new Deno.Command("id", { args: ["-un"], stdout: "piped" }).outputSync()
      .stdout,
  ).trim();
  await conn.write(encoder.encode(
    JSON.stringify({
      kind: "route",
      uid,
      user,
      pid,
      sessionPid: pid,
      config,
      sshd,
      client: "127.0.0.1:40000",
      sessionId: String(pid).padStart(10, "0"),
      stats: false,
    }) + "\n",
  ));
  const reply = await line();
  // Protocol 2: a route is the session's once accepted (and confirmed).
  if (reply?.includes('"kind":"route"')) {
    await conn.write(encoder.encode(JSON.stringify({ kind: "accept" }) + "\n"));
    const confirmed = await line();
    if (!confirmed?.includes('"kind":"confirmed"')) {
      conn.close();
      return `not confirmed: ${confirmed}`;
    }
  }
  conn.close();
  return reply;
}

const children = [];
let routed = 0;
for (let i = 0; i < count; i++) {
  const child = new Deno.Command("sleep", { args: ["3600"] }).spawn();
  children.push(child);
  const reply = await ask(child.pid);
  if (reply?.includes('"kind":"route"')) routed++;
  else console.error(`session ${i}: ${reply}`);
}
console.error(`routed ${routed} of ${count}`);
await new Promise(() => {});
