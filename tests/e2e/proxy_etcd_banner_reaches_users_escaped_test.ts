// etcd's error banner is shown to every user whose login finds no usable
// destination, and anyone holding the etcd password (readable by whoever
// can run a program on a gateway) can set it. Escape sequences in it must
// not reach the victims' terminals raw: a title report or clipboard write
// (OSC 52) there could type or paste commands into the user's own shell
// once ssh ends. The banner's lines stay lines; the configuration's own
// banner, written by the administrator, is left as written.
import assert from "node:assert/strict";
import { USERS } from "../harness/mod.ts";
import { e2e, startEtcdGateways, WHERE } from "./proxy_etcd_env.ts";

// deno-lint-ignore no-control-regex -- control characters are the point
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

Deno.test({
  name:
    "a banner forged in etcd reaches a refused user's terminal with its escape sequences escaped and its lines kept",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    // A first login makes the destination known in etcd, to disable it.
    const first = await env.ssh(WHERE);
    assert.equal(first.code, 0, first.stderr);
    const disabled = await env.ctl(["disable", "-all"]);
    assert.equal(disabled.code, 0, disabled.stderr);
    // Title set then reported back (CSI 21 t), the clipboard written.
    const forged = "Down for maintenance.\n" +
      "\x1b]2;rm -rf ~\x07\x1b[21t\x1b]52;c;cm0gLXJmIH4K\x07\r\u009b2J";
    await env.etcdctl(["put", "--", "/sshproxy/error_banner/value", forged]);
    const refused = await env.ssh(WHERE, { user: USERS.user2 });
    assert.equal(refused.code, 1, refused.stderr);
    const raw = RAW_CONTROL.exec(refused.stdout);
    assert.equal(
      raw,
      null,
      `raw ${JSON.stringify(raw?.[0])} in ${JSON.stringify(refused.stdout)}`,
    );
    assert.equal(
      refused.stdout,
      "Down for maintenance.\n" +
        "\\x1b]2;rm -rf ~\\a\\x1b[21t\\x1b]52;c;cm0gLXJmIH4K\\a\\r\\u009b2J\n",
    );
  },
});
