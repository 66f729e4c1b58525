// Reads the public key of an authorized_keys-style text, as Go's
// x/crypto/ssh ParseAuthorizedKey does (the reference uses it on the
// SSH_USER_AUTH content), including OpenSSH certificates and their critical
// options. The npm `ssh2` package has no OpenSSH certificate support, so the
// wire format (RFC 4253 §6.6, RFC 5656 §3.1, PROTOCOL.certkeys,
// PROTOCOL.u2f) is decoded by hand. Signatures are not verified: sshd
// already accepted this key before writing the file, and so does the
// reference. Which inputs are rejected, and the error texts, follow
// x/crypto v0.49 (the version vendored by sshproxy 2.1.1).
import { fail, ok, type Result } from "../result.ts";
import { trimSpace } from "./command_line.ts";

/** A parsed public key: its wire type and, for a certificate, its critical options. */
export interface PublicKeyInfo {
  type: string;
  /** Present only for an OpenSSH certificate: option name → value ("" for a flag). */
  criticalOptions?: Map<string, string>;
}

/** Parses the first parseable key of an authorized_keys text; Go's `ssh: no key found...` error otherwise. */
export function parseAuthorizedKey(text: string): Result<PublicKeyInfo> {
  let lastError: string | undefined;
  for (const rawLine of text.split("\n")) {
    const carriageReturn = rawLine.indexOf("\r");
    const line = trimSpace(
      carriageReturn === -1 ? rawLine : rawLine.slice(0, carriageReturn),
    );
    if (line === "" || line.startsWith("#")) continue;
    const firstGap = indexOfBlank(line);
    if (firstGap === -1) continue;
    // First try "<type> <base64> [comment]"; the type field is not checked,
    // the type inside the blob is the one that counts.
    const plain = parseKeyField(line.slice(firstGap));
    if (plain.ok) return plain;
    lastError = plain.error;
    // Then "<options> <type> <base64> [comment]".
    const optionsEnd = endOfOptions(line);
    if (optionsEnd === -1) continue;
    const afterOptions = line.slice(optionsEnd).replace(/^[ \t]+/, "");
    const typeEnd = indexOfBlank(afterOptions);
    if (afterOptions === "" || typeEnd === -1) continue;
    const withOptions = parseKeyField(afterOptions.slice(typeEnd));
    if (withOptions.ok) return withOptions;
    lastError = withOptions.error;
  }
  return fail(
    lastError === undefined
      ? "ssh: no key found"
      : `ssh: no key found; last parsing error for ignored line: ${lastError}`,
  );
}

function indexOfBlank(text: string): number {
  const match = /[ \t]/.exec(text);
  return match === null ? -1 : match.index;
}

// Index of the first blank outside double quotes; -1 when there is none
// (Go then ends up skipping the line).
function endOfOptions(line: string): number {
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (!inQuote && (char === " " || char === "\t")) return i;
    if (char === '"' && (i === 0 || line[i - 1] !== "\\")) inQuote = !inQuote;
  }
  return -1;
}

function parseKeyField(text: string): Result<PublicKeyInfo> {
  const trimmed = trimSpace(text);
  const gap = indexOfBlank(trimmed);
  const field = gap === -1 ? trimmed : trimmed.slice(0, gap);
  const blob = decodeBase64(new TextEncoder().encode(field));
  if (!blob.ok) return blob;
  return parsePublicKey(blob.value);
}

// Go's base64.StdEncoding.Decode: padding required, trailing bits ignored,
// errors give the offending byte offset.
const BASE64_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD = 0x3d;

function decodeBase64(src: Uint8Array): Result<Uint8Array> {
  const corrupt = (at: number) =>
    fail<Uint8Array>(`illegal base64 data at input byte ${at}`);
  const out: number[] = [];
  let si = 0;
  for (;;) {
    const quantum = [0, 0, 0, 0];
    let length = 4;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return ok(Uint8Array.from(out));
        return corrupt(si - j);
      }
      const byte = src[si++];
      const value = BASE64_ALPHABET.indexOf(String.fromCharCode(byte));
      if (byte < 0x80 && value !== -1) {
        quantum[j] = value;
        continue;
      }
      if (byte !== PAD || j < 2) return corrupt(si - 1);
      if (j === 2) {
        if (si === src.length) return corrupt(src.length);
        if (src[si] !== PAD) return corrupt(si - 1);
        si++;
      }
      if (si < src.length) return corrupt(si);
      length = j;
      break;
    }
    const bits = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) |
      quantum[3];
    const bytes = [(bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff];
    out.push(...bytes.slice(0, length - 1));
    if (length < 4) return ok(Uint8Array.from(out));
  }
}

const SHORT_READ = "ssh: short read";
// Go's Unmarshal on empty input or leftover bytes ("message type 0").
const PARSE_ERROR = "ssh: parse error in message type 0";

// Certificate type → the type of the key it certifies.
const CERTIFIED_KEY_TYPE: Record<string, string> = {
  "ssh-rsa-cert-v01@openssh.com": "ssh-rsa",
  "ssh-dss-cert-v01@openssh.com": "ssh-dss",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com": "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com": "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com": "ecdsa-sha2-nistp521",
  "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com":
    "sk-ecdsa-sha2-nistp256@openssh.com",
  "ssh-ed25519-cert-v01@openssh.com": "ssh-ed25519",
  "sk-ssh-ed25519-cert-v01@openssh.com": "sk-ssh-ed25519@openssh.com",
};

// Signature algorithm names that are not key types, with the key type to use.
const SIGNATURE_ONLY_NAMES: Record<string, string> = {
  "rsa-sha2-256": "ssh-rsa",
  "rsa-sha2-512": "ssh-rsa",
  "rsa-sha2-256-cert-v01@openssh.com": "ssh-rsa-cert-v01@openssh.com",
  "rsa-sha2-512-cert-v01@openssh.com": "ssh-rsa-cert-v01@openssh.com",
};

/** Reads SSH wire-format fields, reporting `undefined` on a short read. */
class WireReader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  rest(): Uint8Array {
    const rest = this.bytes.subarray(this.offset);
    this.offset = this.bytes.length;
    return rest;
  }

  bytesField(): Uint8Array | undefined {
    const length = this.uint32();
    if (length === undefined || length > this.remaining) return undefined;
    const field = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return field;
  }

  uint32(): number | undefined {
    if (this.remaining < 4) return undefined;
    const view = new DataView(
      this.bytes.buffer,
      this.bytes.byteOffset + this.offset,
    );
    this.offset += 4;
    return view.getUint32(0);
  }

  uint64(): bigint | undefined {
    if (this.remaining < 8) return undefined;
    const view = new DataView(
      this.bytes.buffer,
      this.bytes.byteOffset + this.offset,
    );
    this.offset += 8;
    return view.getBigUint64(0);
  }
}

const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function parsePublicKey(blob: Uint8Array): Result<PublicKeyInfo> {
  const reader = new WireReader(blob);
  const type = reader.bytesField();
  if (type === undefined) return fail(SHORT_READ);
  const parsed = parseKeyBody(utf8(type), reader.rest());
  if (!parsed.ok) return parsed;
  if (parsed.value.rest.length > 0) {
    return fail("ssh: trailing junk in public key");
  }
  return ok(parsed.value.key);
}

type Parsed = { key: PublicKeyInfo; rest: Uint8Array };

function parseKeyBody(type: string, body: Uint8Array): Result<Parsed> {
  const certified = CERTIFIED_KEY_TYPE[type];
  if (certified !== undefined) return parseCertificate(type, certified, body);
  const fields = parsePlainKey(type, body);
  if (!fields.ok) return fields;
  return ok({ key: { type }, rest: fields.value });
}

// Checks the key-type-specific public key fields; returns the bytes after them.
function parsePlainKey(type: string, body: Uint8Array): Result<Uint8Array> {
  const reader = new WireReader(body);
  switch (type) {
    case "ssh-rsa": {
      if (body.length === 0) return fail(PARSE_ERROR);
      const exponent = reader.bytesField();
      if (exponent === undefined || reader.bytesField() === undefined) {
        return fail(SHORT_READ);
      }
      return checkRsaExponent(exponent) ?? ok(reader.rest());
    }
    case "ssh-dss": {
      if (body.length === 0) return fail(PARSE_ERROR);
      const p = reader.bytesField();
      if (p === undefined) return fail(SHORT_READ);
      for (let i = 0; i < 3; i++) {
        if (reader.bytesField() === undefined) return fail(SHORT_READ);
      }
      const size = bitLength(p);
      if (size !== 1024) return fail(`ssh: unsupported DSA key size ${size}`);
      return ok(reader.rest());
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
    case "sk-ecdsa-sha2-nistp256@openssh.com": {
      if (body.length === 0) return fail(PARSE_ERROR);
      const curve = reader.bytesField();
      if (curve === undefined) {
        return fail("ssh: unmarshal error for field Curve of type ");
      }
      const point = reader.bytesField();
      if (point === undefined) return fail(SHORT_READ);
      const security = type.startsWith("sk-");
      if (security && reader.bytesField() === undefined) {
        return fail("ssh: unmarshal error for field Application of type ");
      }
      // Go does not check that the curve matches the type name, except for
      // security keys which only exist on nistp256.
      const curveName = utf8(curve);
      const params = CURVES[curveName];
      if (params === undefined || (security && curveName !== "nistp256")) {
        return fail("ssh: unsupported curve");
      }
      if (!isOnCurve(point, params)) return fail("ssh: invalid curve point");
      return ok(reader.rest());
    }
    case "ssh-ed25519":
    case "sk-ssh-ed25519@openssh.com": {
      if (body.length === 0) return fail(PARSE_ERROR);
      const key = reader.bytesField();
      if (key === undefined) return fail(SHORT_READ);
      if (type.startsWith("sk-") && reader.bytesField() === undefined) {
        return fail("ssh: unmarshal error for field Application of type ");
      }
      if (key.length !== 32) {
        return fail(`invalid size ${key.length} for Ed25519 public key`);
      }
      return ok(reader.rest());
    }
  }
  const keyType = SIGNATURE_ONLY_NAMES[type];
  if (keyType !== undefined) {
    return fail(
      `ssh: signature algorithm "${type}" isn't a key format; key is ` +
        `malformed and should be re-encoded with type "${keyType}"`,
    );
  }
  return fail(`ssh: unknown key algorithm: ${type}`);
}

// PROTOCOL.certkeys: string nonce, the certified key's fields, uint64
// serial, uint32 type, string key id, string valid principals, uint64 valid
// after, uint64 valid before, string critical options, string extensions,
// string reserved, string signature key, string signature.
function parseCertificate(
  type: string,
  certifiedType: string,
  body: Uint8Array,
): Result<Parsed> {
  const head = new WireReader(body);
  if (head.bytesField() === undefined) return fail(SHORT_READ);
  const afterKey = parsePlainKey(certifiedType, head.rest());
  if (!afterKey.ok) return afterKey;
  if (afterKey.value.length === 0) return fail(PARSE_ERROR);
  const reader = new WireReader(afterKey.value);
  if (reader.uint64() === undefined || reader.uint32() === undefined) {
    return fail(SHORT_READ);
  }
  if (reader.bytesField() === undefined) {
    return fail("ssh: unmarshal error for field KeyId of type genericCertData");
  }
  const principals = reader.bytesField();
  if (
    principals === undefined || reader.uint64() === undefined ||
    reader.uint64() === undefined
  ) return fail(SHORT_READ);
  const criticalOptions = reader.bytesField();
  const extensions = reader.bytesField();
  const reserved = reader.bytesField();
  const signatureKey = reader.bytesField();
  const signature = reader.bytesField();
  if (
    criticalOptions === undefined || extensions === undefined ||
    reserved === undefined || signatureKey === undefined ||
    signature === undefined
  ) return fail(SHORT_READ);
  if (reader.remaining > 0) return fail(PARSE_ERROR);

  const principalReader = new WireReader(principals);
  while (principalReader.remaining > 0) {
    if (principalReader.bytesField() === undefined) return fail(SHORT_READ);
  }
  const options = parseOptions(criticalOptions);
  if (!options.ok) return options;
  const extensionList = parseOptions(extensions);
  if (!extensionList.ok) return extensionList;
  const signer = parsePublicKey(signatureKey);
  if (!signer.ok) return signer;
  if (signer.value.criticalOptions !== undefined) {
    return fail(
      `ssh: the signature key type "${signer.value.type}" is invalid for certificates`,
    );
  }
  if (!isSignatureBody(signature)) return fail("ssh: signature parse error");
  return ok({
    key: { type, criticalOptions: options.value },
    rest: new Uint8Array(),
  });
}

// Options and extensions: (string name, string data) pairs in strictly
// increasing name order, where non-empty data is itself one string.
function parseOptions(bytes: Uint8Array): Result<Map<string, string>> {
  const options = new Map<string, string>();
  const reader = new WireReader(bytes);
  let lastName: string | undefined;
  while (reader.remaining > 0) {
    const nameBytes = reader.bytesField();
    if (nameBytes === undefined) return fail(SHORT_READ);
    const name = utf8(nameBytes);
    if (lastName !== undefined && compareBytes(name, lastName) <= 0) {
      return fail("ssh: certificate options are not in lexical order");
    }
    lastName = name;
    const data = reader.bytesField();
    if (data === undefined) return fail(SHORT_READ);
    if (data.length === 0) {
      options.set(name, "");
      continue;
    }
    const inner = new WireReader(data);
    const value = inner.bytesField();
    if (value === undefined) return fail(SHORT_READ);
    if (inner.remaining > 0) {
      return fail(
        "ssh: unexpected trailing data after certificate option value",
      );
    }
    options.set(name, utf8(value));
  }
  return ok(options);
}

// Go compares strings bytewise; UTF-16 order differs for astral characters.
function compareBytes(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

function isSignatureBody(bytes: Uint8Array): boolean {
  const reader = new WireReader(bytes);
  const format = reader.bytesField();
  if (format === undefined || reader.bytesField() === undefined) return false;
  // Security-key signatures carry flags and a counter after the blob.
  if (utf8(format).startsWith("sk-")) return true;
  return reader.remaining === 0;
}

function bigIntOf(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

// An mpint's bit length, as Go's big.Int.BitLen (of the absolute value).
function bitLength(mpint: Uint8Array): number {
  let value = bigIntOf(mpint);
  if (mpint.length > 0 && mpint[0] & 0x80) {
    value = (1n << BigInt(mpint.length * 8)) - value;
  }
  return value === 0n ? 0 : value.toString(2).length;
}

function checkRsaExponent(
  mpint: Uint8Array,
): Result<Uint8Array> | undefined {
  if (bitLength(mpint) > 24) return fail("ssh: exponent too large");
  const negative = mpint.length > 0 && (mpint[0] & 0x80) !== 0;
  const exponent = bigIntOf(mpint);
  if (negative || exponent < 3n || exponent % 2n === 0n) {
    return fail("ssh: incorrect exponent");
  }
  return undefined;
}

interface Curve {
  p: bigint;
  b: bigint;
  byteLength: number;
}

// NIST curves y² = x³ - 3x + b (mod p), as Go's elliptic.Unmarshal checks.
const CURVES: Record<string, Curve> = {
  nistp256: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    byteLength: 32,
  },
  nistp384: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    byteLength: 48,
  },
  nistp521: {
    p: (1n << 521n) - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    byteLength: 66,
  },
};

// Uncompressed form only, coordinates reduced, and on the curve.
function isOnCurve(point: Uint8Array, curve: Curve): boolean {
  if (point.length !== 1 + 2 * curve.byteLength || point[0] !== 4) {
    return false;
  }
  const x = bigIntOf(point.subarray(1, 1 + curve.byteLength));
  const y = bigIntOf(point.subarray(1 + curve.byteLength));
  const { p, b } = curve;
  if (x >= p || y >= p) return false;
  const mod = (n: bigint) => ((n % p) + p) % p;
  return mod(y * y) === mod(x * x * x - 3n * x + b);
}
