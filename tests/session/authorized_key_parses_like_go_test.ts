import assert from "node:assert/strict";
import { parseAuthorizedKey } from "../../src/session/authorized_key.ts";
import { inTempDir, newKey } from "./ssh_keygen.ts";

// SSH wire-format builder for keys ssh-keygen cannot make here (security
// keys) or refuses to make (malformed certificates).
function str(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data;
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}
function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
const u32 = (n: number) => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
};
const u64 = (n: bigint) => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
};
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const ed25519Key = () =>
  cat(str("ssh-ed25519"), str(new Uint8Array(32).fill(7)));
const options = (...pairs: [string, string][]) =>
  cat(...pairs.map(([k, v]) => cat(str(k), v === "" ? str("") : str(str(v)))));

function certificate(
  critical: Uint8Array,
  signatureKey: Uint8Array = ed25519Key(),
): Uint8Array {
  return cat(
    str("sk-ssh-ed25519-cert-v01@openssh.com"),
    str("nonce"),
    str(new Uint8Array(32).fill(1)),
    str("ssh:"),
    u64(1n),
    u32(1),
    str("id"),
    str(str("user")),
    u64(0n),
    u64(0xffffffffffffffffn),
    str(critical),
    str(""),
    str(""),
    str(signatureKey),
    str(cat(str("ssh-ed25519"), str(new Uint8Array(64)))),
  );
}

const lastError = (error: string) => ({
  ok: false,
  error: `ssh: no key found; last parsing error for ignored line: ${error}`,
});

Deno.test("security-key certificates and their options are read", () => {
  const cert = certificate(
    options(["force-command", "run me"], ["source-address", "10.0.0.1"]),
  );
  const parsed = parseAuthorizedKey(
    `sk-ssh-ed25519-cert-v01@openssh.com ${b64(cert)}`,
  );
  assert.ok(parsed.ok);
  assert.equal(parsed.value.type, "sk-ssh-ed25519-cert-v01@openssh.com");
  assert.deepEqual(
    parsed.value.criticalOptions,
    new Map([["force-command", "run me"], ["source-address", "10.0.0.1"]]),
  );
});

Deno.test("certificate options out of lexical order are rejected", () => {
  const cert = certificate(
    options(["source-address", "10.0.0.1"], ["force-command", "run me"]),
  );
  assert.deepEqual(
    parseAuthorizedKey(`x ${b64(cert)}`),
    lastError("ssh: certificate options are not in lexical order"),
  );
});

Deno.test("a certificate signed by a certificate is rejected", () => {
  const signer = certificate(options()).subarray(0);
  const cert = certificate(options(), signer);
  assert.deepEqual(
    parseAuthorizedKey(`x ${b64(cert)}`),
    lastError(
      'ssh: the signature key type "sk-ssh-ed25519-cert-v01@openssh.com" is invalid for certificates',
    ),
  );
});

Deno.test("key blobs Go refuses are refused with Go's reason", async (t) => {
  const cases: [string, Uint8Array, string][] = [
    [
      "unknown type",
      cat(str("ssh-foo"), str("x")),
      "ssh: unknown key algorithm: ssh-foo",
    ],
    [
      "signature name used as key type",
      cat(str("rsa-sha2-256"), str("x")),
      'ssh: signature algorithm "rsa-sha2-256" isn\'t a key format; key is malformed and should be re-encoded with type "ssh-rsa"',
    ],
    [
      "short Ed25519 key",
      cat(str("ssh-ed25519"), str(new Uint8Array(31))),
      "invalid size 31 for Ed25519 public key",
    ],
    [
      "trailing junk",
      cat(ed25519Key(), new Uint8Array(1)),
      "ssh: trailing junk in public key",
    ],
    ["blob shorter than its type", new Uint8Array(2), "ssh: short read"],
    [
      "RSA even exponent",
      cat(str("ssh-rsa"), str(new Uint8Array([4])), str(new Uint8Array([1]))),
      "ssh: incorrect exponent",
    ],
    [
      "unknown curve",
      cat(str("ecdsa-sha2-nistp256"), str("nistp999"), str(new Uint8Array(65))),
      "ssh: unsupported curve",
    ],
    [
      "point off the curve",
      cat(
        str("ecdsa-sha2-nistp256"),
        str("nistp256"),
        str(new Uint8Array(65).fill(4)),
      ),
      "ssh: invalid curve point",
    ],
  ];
  for (const [name, blob, error] of cases) {
    await t.step(name, () => {
      assert.deepEqual(
        parseAuthorizedKey(`type ${b64(blob)}`),
        lastError(error),
      );
    });
  }
});

Deno.test("real ECDSA points pass the curve check and damaged ones fail", async () => {
  await inTempDir(async (dir) => {
    for (const bits of ["256", "384", "521"]) {
      const line = await newKey(dir, `ecdsa${bits}`, [
        "-t",
        "ecdsa",
        "-b",
        bits,
      ]);
      assert.ok(parseAuthorizedKey(line).ok, line);
      const [type, base64] = line.split(" ");
      const blob = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      blob[blob.length - 1] ^= 1; // last byte of y
      // No comment: Go would also try it as a key after an options field,
      // and report that attempt's error instead.
      const damaged = `${type} ${b64(blob)}`;
      assert.deepEqual(
        parseAuthorizedKey(damaged),
        lastError("ssh: invalid curve point"),
      );
    }
  });
});

Deno.test("lines are read like Go's ParseAuthorizedKey", async (t) => {
  const key = `ssh-ed25519 ${b64(ed25519Key())}`;
  await t.step("comments and blank lines are skipped", () => {
    assert.ok(parseAuthorizedKey(`# comment\n\n   \n${key} me@host\n`).ok);
  });
  await t.step("an options field before the type is skipped", () => {
    const parsed = parseAuthorizedKey(`restrict,command="a b" ${key}`);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.type, "ssh-ed25519");
    assert.equal(parsed.value.criticalOptions, undefined);
  });
  await t.step("a later line is used when the first fails", () => {
    assert.ok(parseAuthorizedKey(`bad line\n${key}`).ok);
  });
  await t.step("a single word per line never counts as an attempt", () => {
    assert.deepEqual(parseAuthorizedKey("garbage\nmore"), {
      ok: false,
      error: "ssh: no key found",
    });
  });
  await t.step("base64 errors carry Go's byte offset", () => {
    assert.deepEqual(
      parseAuthorizedKey("t AAAA="),
      lastError("illegal base64 data at input byte 4"),
    );
    assert.deepEqual(
      parseAuthorizedKey("t AA"),
      lastError("illegal base64 data at input byte 0"),
    );
    assert.deepEqual(
      parseAuthorizedKey("t AAA=A"),
      lastError("illegal base64 data at input byte 4"),
    );
    assert.deepEqual(
      parseAuthorizedKey("t AA=A"),
      lastError("illegal base64 data at input byte 2"),
    );
  });
});
