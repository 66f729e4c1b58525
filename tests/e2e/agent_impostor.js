// A hand-written client of the agent's socket, run by a test user to try
// what a local user could: claim another uid, plant a symbolic or hard link
// under the nonce's name, reuse a nonce, prove too late; send fields of its
// choice (`fields`), a report instead of a route (`report`), one honest
// connection after another (`flood`, `count` of them), or `count` silent
// connections held open for `holdMs` (`hold`). Plain JavaScript
// without imports, so that any user can run it with the installed Deno.
// Usage: deno run --allow-all agent_impostor.js '<JSON scenario>'
// Prints one JSON line: what happened.
const scenario = JSON.parse(Deno.args[0]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function open() {
  const conn = await Deno.connect({ transport: "unix", path: scenario.socket });
  let buffered = "";
  const buffer = new Uint8Array(65536);
  return {
    conn,
    async line(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!buffered.includes("\n")) {
        if (Date.now() > deadline) return undefined;
        let count;
        try {
          count = await Promise.race([
            conn.read(buffer),
            new Promise((resolve) =>
              setTimeout(() => resolve("timeout"), deadline - Date.now())
            ),
          ]);
        } catch (error) {
          return `error: ${error.message}`;
        }
        if (count === "timeout") return undefined;
        if (count === null) return buffered === "" ? null : buffered;
        buffered += decoder.decode(buffer.subarray(0, count));
      }
      const index = buffered.indexOf("\n");
      const line = buffered.slice(0, index);
      buffered = buffered.slice(index + 1);
      return line;
    },
    async send(message) {
      try {
        await conn.write(encoder.encode(JSON.stringify(message) + "\n"));
        return true;
      } catch {
        return false;
      }
    },
    close() {
      try {
        conn.close();
      } catch {
        // closed
      }
    },
  };
}

function request(uid, user) {
  if (scenario.report) {
    return { kind: "report", uid, user, pid: Deno.pid, outcome: "error" };
  }
  return {
    kind: "route",
    uid,
    user,
    pid: Deno.pid,
    sessionPid: Deno.pid,
    config: scenario.config,
    sshd: scenario.sshd,
    client: "127.0.0.1:40000",
    sessionId: "ABCDEF0123",
    stats: false,
    ...scenario.fields,
  };
}

function createProof(path) {
  const file = Deno.openSync(path, {
    createNew: true,
    write: true,
    mode: 0o600,
  });
  file.close();
}

const result = {};
if (scenario.mode === "hold") {
  // Connections that never say anything, all open at once for `holdMs`.
  const held = [];
  result.opened = 0;
  for (let i = 0; i < scenario.count; i++) {
    try {
      held.push(
        await Deno.connect({ transport: "unix", path: scenario.socket }),
      );
      result.opened++;
    } catch (error) {
      result.refused = error.name;
      break;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, scenario.holdMs));
  for (const connection of held) {
    try {
      connection.close();
    } catch {
      // closed by the agent
    }
  }
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
if (scenario.mode === "flood") {
  // One honest connection after another, as fast as the agent answers.
  result.sent = 0;
  for (let i = 0; i < scenario.count; i++) {
    const flood = await open();
    const floodHello = JSON.parse(await flood.line());
    createProof(`${floodHello.proofDir}/${floodHello.nonce}`);
    if (await flood.send(request(scenario.claimUid, scenario.claimUser))) {
      result.sent++;
    }
    await flood.line();
    flood.close();
  }
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
const client = await open();
const hello = JSON.parse(await client.line());
const proof = `${hello.proofDir}/${hello.nonce}`;
result.nonce = hello.nonce;
switch (scenario.mode) {
  case "honest":
  case "claim-other":
    createProof(proof);
    break;
  case "symlink":
    Deno.symlinkSync(scenario.target, proof);
    break;
  case "hardlink":
    try {
      Deno.linkSync(scenario.target, proof);
      result.linked = true;
      if (scenario.unlinkTarget) {
        Deno.removeSync(scenario.target);
        result.unlinked = true;
      }
    } catch (error) {
      result.linked = false;
      result.linkError = error.name;
    }
    break;
  case "reuse": {
    // The first connection's proof is used; then its nonce is proven again
    // and a second connection claims with it.
    createProof(proof);
    await client.send(request(scenario.claimUid, scenario.claimUser));
    result.first = await client.line();
    client.close();
    createProof(proof);
    const second = await open();
    const secondHello = JSON.parse(await second.line());
    result.secondNonce = secondHello.nonce;
    await second.send(request(scenario.claimUid, scenario.claimUser));
    result.reply = await second.line();
    second.close();
    try {
      Deno.removeSync(proof);
    } catch {
      // the agent removed it
    }
    console.log(JSON.stringify(result));
    Deno.exit(0);
    break;
  }
  case "late":
    await new Promise((resolve) => setTimeout(resolve, scenario.waitMs));
    createProof(proof);
    break;
}
result.sent = await client.send(request(scenario.claimUid, scenario.claimUser));
result.reply = await client.line();
client.close();
try {
  result.proofLeft = Deno.lstatSync(proof) !== undefined;
  Deno.removeSync(proof);
} catch {
  result.proofLeft = false;
}
console.log(JSON.stringify(result));
