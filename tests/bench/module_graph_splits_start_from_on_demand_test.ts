import assert from "node:assert/strict";
import { computedImports, graphOf } from "../../scripts/bench/module_graph.ts";

const dir = "/opt/sshproxy/lib/sshproxy";
const url = (path: string) => `file://${dir}/${path}`;
const dep = (specifier: string, resolved: string, isDynamic = false) => ({
  specifier,
  code: { specifier: resolved },
  ...(isDynamic ? { isDynamic } : {}),
});

// main.ts dispatches to faces by dynamic import; the proxy face imports a
// config module statically and the etcd layer on demand.
const info = {
  roots: [url("main.ts")],
  modules: [
    {
      specifier: url("main.ts"),
      dependencies: [
        dep("./src/cli/dispatch.ts", url("src/cli/dispatch.ts")),
        dep("node:process", "node:process", true),
        dep("./src/cli/proxy.ts", url("src/cli/proxy.ts"), true),
        dep("./src/cli/ctl.ts", url("src/cli/ctl.ts"), true),
      ],
    },
    { specifier: url("src/cli/dispatch.ts"), dependencies: [] },
    {
      specifier: url("src/cli/proxy.ts"),
      dependencies: [
        dep("../config/load.ts", url("src/config/load.ts")),
        dep("../state/store.ts", url("src/state/store.ts"), true),
        // A type-only import has no code to load.
        { specifier: "../config/types.ts" },
      ],
    },
    {
      specifier: url("src/config/load.ts"),
      dependencies: [
        dep("yaml/esm", url("node_modules/yaml/browser/index.js")),
      ],
    },
    {
      specifier: url("src/state/store.ts"),
      dependencies: [
        dep("./etcd_http.ts", url("src/state/etcd_http.ts")),
        dep("../config/load.ts", url("src/config/load.ts")),
      ],
    },
    {
      specifier: url("src/state/etcd_http.ts"),
      dependencies: [dep("node:net", "node:net")],
    },
    {
      specifier: url("src/cli/ctl.ts"),
      dependencies: [dep("table", "npm:/table@6.10.1")],
    },
  ],
};

Deno.test("the proxy face counts as loaded at start, the other faces not at all", () => {
  const graph = graphOf(info, dir, url("src/cli/proxy.ts"));
  assert.equal(graph.entry, "main.ts");
  assert.equal(graph.face, "src/cli/proxy.ts");
  // main.ts, dispatch.ts, proxy.ts, load.ts
  assert.equal(graph.staticModules, 4);
  assert.ok(!graph.externals.some((e) => e.specifier === "table"));
});

Deno.test("a dynamic import and what it imports in turn are on demand", () => {
  const graph = graphOf(info, dir, url("src/cli/proxy.ts"));
  assert.deepEqual(graph.onDemand, [
    { module: "src/state/store.ts", importer: "src/cli/proxy.ts" },
  ]);
  assert.deepEqual(
    graph.externals.map((e) => [e.specifier, e.importer, e.onDemand]),
    [
      ["yaml/esm", "src/config/load.ts", false],
      ["node:net", "src/state/etcd_http.ts", true],
      ["node:process", "main.ts", true],
    ],
  );
});

Deno.test("without a face module, the root's dynamic imports are on demand", () => {
  const graph = graphOf(info, dir);
  assert.equal(graph.face, undefined);
  assert.equal(graph.staticModules, 2);
  assert.deepEqual(
    graph.onDemand.map((m) => m.module).sort(),
    ["src/cli/ctl.ts", "src/cli/proxy.ts", "src/state/store.ts"],
  );
});

Deno.test("the login face's computed imports of its parts are found in its source", () => {
  const source = [
    'const a = await import(new URL("./sshproxy.agent_client-X1.js", import.meta.url).href);',
    'const b = await import(new URL("./sshproxy.agent_client-X1.js", import.meta.url).href);',
    'const c = await import(new URL("./sshproxy.yaml_tree-Y2.js", import.meta.url).href);',
    // Minified, as scripts/bundle.sh writes the modules.
    'const f=await import(new URL("./sshproxy.listing-Z3.js",import.meta.url).href);',
    'const d = await import("ssh2");',
    'const e = new URL("./not-an-import.js", import.meta.url);',
  ].join("\n");
  assert.deepEqual(computedImports(source), [
    "./sshproxy.agent_client-X1.js",
    "./sshproxy.yaml_tree-Y2.js",
    "./sshproxy.listing-Z3.js",
  ]);
});
