// Users are looked up by NAME, as the reference's user.Lookup (getpwnam)
// does, through NSS: a name made of digits is that user, never the account
// whose uid the digits happen to be; a name that is no user is unknown,
// even when an account has that number as uid; a second name on an
// existing uid is still that name, with its own groups. Real accounts.
import assert from "node:assert/strict";
import { ensureTestAccounts, GROUPS, USERS } from "../harness/mod.ts";
import { createScratchAccount, uidInUse } from "../harness/scratch_accounts.ts";
import { lookupUserByName } from "../../src/system/identity.ts";

/** A number no account uses as uid (and so, here, as a name of digits). */
async function freeNumber(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 200_000 + Math.floor(Math.random() * 700_000);
    if (!(await uidInUse(candidate))) return candidate;
  }
  throw new Error("no free uid found in 50 attempts");
}

Deno.test({
  name:
    "digits name a user, not a uid; an alias of a uid keeps its own name and groups",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await ensureTestAccounts();
    const number = await freeNumber();
    const suffix = String(number);
    // The account that owns uid NUMBER, named otherwise.
    await using owner = await createScratchAccount(
      `sshproxy-scratch-u${suffix}`,
      { group: GROUPS.user1, uid: number },
    );
    // No user is named NUMBER yet: unknown, not the owner of uid NUMBER.
    assert.deepEqual(await lookupUserByName(String(number)), {
      ok: true,
      value: undefined,
    });
    // "+NUMBER" is never a name either (id would read it as a uid).
    assert.deepEqual(await lookupUserByName(`+${number}`), {
      ok: true,
      value: undefined,
    });

    // A user literally named NUMBER, with another uid and other groups.
    await using digits = await createScratchAccount(String(number), {
      group: GROUPS.fedora,
    });
    assert.notEqual(digits.uid, number);
    const found = await lookupUserByName(String(number));
    assert.ok(found.ok && found.value !== undefined, JSON.stringify(found));
    assert.equal(found.value.user, String(number));
    assert.equal(found.value.uid, digits.uid);
    assert.deepEqual(found.value.groups, [GROUPS.fedora]);

    // A second name on the owner's uid: id reports the owner's name for
    // the uid, yet the alias exists and has its own groups.
    await using alias = await createScratchAccount(
      `sshproxy-scratch-a${suffix}`,
      {
        group: GROUPS.fedora,
        groups: [GROUPS.user1],
        uid: owner.uid,
        shareUid: true,
      },
    );
    const aliased = await lookupUserByName(alias.name);
    assert.ok(aliased.ok && aliased.value !== undefined);
    assert.equal(aliased.value.user, alias.name);
    assert.equal(aliased.value.uid, number);
    assert.deepEqual(aliased.value.groups.sort(), [
      GROUPS.fedora,
      GROUPS.user1,
    ]);
    const ownerFound = await lookupUserByName(owner.name);
    assert.ok(ownerFound.ok && ownerFound.value !== undefined);
    assert.deepEqual(ownerFound.value.groups, [GROUPS.user1]);

    // A shared test account, and names that are no user.
    const fedora = await lookupUserByName(USERS.fedora);
    assert.ok(fedora.ok && fedora.value?.user === USERS.fedora);
    for (const name of ["", "sshproxy-nobody-here", "-n"]) {
      assert.deepEqual(await lookupUserByName(name), {
        ok: true,
        value: undefined,
      }, name);
    }
  },
});
