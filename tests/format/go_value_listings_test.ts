import assert from "node:assert/strict";
import {
  formatGoQuotedList,
  formatGoValue,
  goMap,
  goQuote,
  goStruct,
} from "../../src/format/govalue.ts";

Deno.test("show config's empty-configuration lines (spec §7.7)", () => {
  assert.equal(
    formatGoValue(goMap({ foo: true, bar: true })),
    "map[bar:true foo:true]",
  );
  assert.equal(formatGoValue(goMap({})), "map[]");
  assert.equal(
    formatGoValue(goStruct({
      Endpoints: [],
      TLS: goStruct({ CAFile: "", KeyFile: "", CertFile: "" }),
      Username: "",
      Password: "",
      KeyTTL: 0,
      Mandatory: false,
    })),
    "{Endpoints:[] TLS:{CAFile: KeyFile: CertFile:} Username: Password: KeyTTL:0 Mandatory:false}",
  );
  assert.equal(
    formatGoValue(goStruct({ Exe: "ssh", Args: ["-q", "-Y"] })),
    "{Exe:ssh Args:[-q -Y]}",
  );
  assert.equal(formatGoValue([]), "[]");
  assert.equal(
    formatGoValue(["server1:22", "[::1]:22"]),
    "[server1:22 [::1]:22]",
  );
});

Deno.test("a pointer to a struct is prefixed with &", () => {
  assert.equal(
    formatGoValue(
      goStruct({ SSHArgs: [], Command: "sftp", DisableDump: true }, {
        pointer: true,
      }),
    ),
    "&{SSHArgs:[] Command:sftp DisableDump:true}",
  );
});

Deno.test("map keys sort by code point, as Go's byte-wise order", () => {
  assert.equal(
    formatGoValue(
      goMap(
        new Map([["b", "2"], ["B", "1"], ["\u{1f600}", "x"], ["\uffff", "y"]]),
      ),
    ),
    "map[B:1 b:2 \uffff:y \u{1f600}:x]",
  );
});

Deno.test("nil and floats print as fmt does", () => {
  assert.equal(formatGoValue(null), "<nil>");
  assert.equal(formatGoValue(1.5), "1.5");
  assert.equal(formatGoValue(1e-5), "1e-05");
  assert.equal(formatGoValue(1234567.5), "1.2345675e+06");
  assert.equal(formatGoValue(9007199254740993n), "9007199254740993");
});

Deno.test("%q lists quote each element with Go's escapes", () => {
  assert.equal(
    formatGoQuotedList(["ssh", "-q", "-Y", "server1", "--", "hostname"]),
    '["ssh" "-q" "-Y" "server1" "--" "hostname"]',
  );
  assert.equal(formatGoQuotedList([]), "[]");
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote("\x07\b\f\n\r\t\v"), '"\\a\\b\\f\\n\\r\\t\\v"');
  assert.equal(goQuote("\x00\x1f\x7f"), '"\\x00\\x1f\\x7f"');
  assert.equal(goQuote("é中❌"), '"é中❌"');
  assert.equal(
    goQuote("\u00a0\u2028\u200b\ufeff\u00ad"),
    '"\\u00a0\\u2028\\u200b\\ufeff\\u00ad"',
  );
  assert.equal(goQuote("\u{10ffff}"), '"\\U0010ffff"');
  assert.equal(goQuote("\ud800"), '"\\xed\\xa0\\x80"');
});
