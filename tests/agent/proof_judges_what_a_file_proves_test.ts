// The identity proof's verdict on a proof file (src/agent/proof.ts), pure:
// only a fresh, empty, private, singly-linked regular file owned by the
// claimed uid proves it.
import assert from "node:assert/strict";
import {
  judgeProof,
  newNonce,
  type ProofFacts,
} from "../../src/agent/proof.ts";

const ISSUED = 1_800_000_000_000;
const genuine: ProofFacts = {
  isFile: true,
  isSymlink: false,
  uid: 1001,
  nlink: 1,
  mode: 0o100600,
  size: 0,
  birthtimeMs: ISSUED + 3,
};

function verdict(changes: Partial<ProofFacts>, uid = 1001): string {
  const judged = judgeProof({ ...genuine, ...changes }, uid, ISSUED);
  return judged.ok ? "ok" : judged.error;
}

Deno.test("the claimed uid's fresh private file proves it", () => {
  assert.equal(verdict({}), "ok");
  // umask may take owner bits away; only group/other bits matter.
  assert.equal(verdict({ mode: 0o100400 }), "ok");
  // File systems without birth times: the other checks still apply.
  assert.equal(verdict({ birthtimeMs: undefined }), "ok");
  // The kernel's coarse clock may stamp a fresh file a tick early.
  assert.equal(verdict({ birthtimeMs: ISSUED - 10 }), "ok");
});

Deno.test("a file of another uid proves nothing", () => {
  assert.equal(verdict({}, 1002), "the proof belongs to uid 1001, not 1002");
});

Deno.test("links, other kinds of files, shared modes, content and old files are refused", () => {
  assert.equal(
    verdict({ isSymlink: true, isFile: false }),
    "the proof is a symbolic link",
  );
  assert.equal(verdict({ isFile: false }), "the proof is not a regular file");
  assert.equal(verdict({ nlink: 2 }), "the proof has 2 links (a hard link)");
  assert.equal(
    verdict({ mode: 0o100666 }),
    "the proof's mode 666 lets others in (a linked file)",
  );
  assert.equal(
    verdict({ mode: 0o100640 }),
    "the proof's mode 640 lets others in (a linked file)",
  );
  assert.equal(verdict({ size: 12 }), "the proof is not empty");
  assert.equal(
    verdict({ birthtimeMs: ISSUED - 60_000 }),
    "the proof is older than its nonce",
  );
});

Deno.test("nonces are 128 random bits in hexadecimal, never repeated", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const nonce = newNonce();
    assert.match(nonce, /^[0-9a-f]{32}$/);
    assert.ok(!seen.has(nonce));
    seen.add(nonce);
  }
});
