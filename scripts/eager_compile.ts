// Marks every function of the prebuilt modules for compilation with its
// module, so that the V8 code cache the install prepares holds them, while
// V8 compiles everything else (Deno's own lazily loaded modules above all)
// lazily.
//
// Why: Deno makes a module's code cache right after compiling it. A lazily
// compiling V8 has then compiled only the top level, and a login compiled
// the rest of our code at every start (+3.6 ms, measured). `--no-lazy` made
// the cache whole, but it is one switch for the whole process: it also
// compiled, in full, the parts of Deno that a session loads on demand
// (the process API brings Deno's streams, file and fetch-body modules) and
// kept their bytecode: 0.56 MiB of an idle session's private memory.
// V8 compiles with its module any function that is written in parentheses
// (its heuristic for "called at once"), and that is what this rewrite
// does:
//   - a function expression, or an arrow function, is wrapped in
//     parentheses;
//   - a function declaration becomes `var NAME = (function (...) {...});`
//     at the start of its scope (`let` in a block that is not a function
//     body): hoisted like the declaration, named NAME like it, and its own
//     name inside it is the scope's binding, as for a declaration.
//   - an object literal's method becomes a property whose value is a
//     parenthesized function expression (the same function, but that it
//     could be called with `new`), unless it uses `super` or has a
//     computed name.
//   - an async arrow function that uses nothing an arrow takes from its
//     scope (`this`, `arguments`, `super`, `new.target`) becomes a
//     parenthesized async function expression (V8's heuristic does not
//     see async arrows).
// Left to V8's lazy compilation: class members and accessors (no syntax
// puts them in parentheses), the other async arrows, and declarations in
// a `switch` case or behind a label.
// (The login's own code avoids classes for that reason.)
//
// A declaration made a `var` is assigned when its module starts to run,
// not when the module graph is linked: only a module in an import cycle
// could call it earlier, so the rewrite refuses a directory whose modules
// import each other in a cycle.
//
// Hand-written on a maintained parser (acorn) and source editor
// (magic-string): no bundler or minifier offers this rewrite.
//
//   deno run --allow-read --allow-write scripts/eager_compile.ts \
//     [--profile PROFILE.json] DIR
//
// rewrites every .js file of DIR (scripts/install.sh runs it on the
// launcher's app/; the compiled binary, which has no code cache, keeps V8's
// lazy compilation of the unchanged modules). In a module that the profile
// names (scripts/login_profile.ts: what a login ran), only the functions it
// lists: the others would keep bytecode in every session that never runs
// them.
import * as acorn from "acorn";
import * as walk from "acorn-walk";
import MagicString from "magic-string";

/** What the rewrite of one module did. */
export interface EagerModule {
  /** The rewritten source. */
  code: string;
  /** Function and arrow expressions put in parentheses. */
  wrapped: number;
  /** Function declarations made parenthesized expressions at their scope's start. */
  hoisted: number;
  /** Relative specifiers the module imports statically (for the cycle check). */
  imports: string[];
}

type Node = acorn.AnyNode;

/**
 * Rewrites one ES module so that V8 compiles its functions with it: all of
 * them, or with `only`, those whose parameter list starts at one of those
 * positions (V8's start of a function; scripts/login_profile.ts).
 */
export function eagerModule(
  source: string,
  only?: ReadonlySet<number>,
): EagerModule {
  const tree = acorn.parse(source, {
    ecmaVersion: "latest",
    sourceType: "module",
    preserveParens: true,
  });
  const out = new MagicString(source);
  let wrapped = 0;
  let hoisted = 0;
  const imports: string[] = [];
  const parenthesize = (node: Node) => {
    // Left of the node's first character and right of its last: an
    // enclosing expression's parentheses, added later, go outside.
    out.prependRight(node.start, "(");
    out.appendLeft(node.end, ")");
    wrapped++;
  };
  const chosen = (node: Node) =>
    only === undefined || only.has(v8Start(source, node));
  walk.fullAncestor(tree, (node: Node, _state, ancestors: Node[]) => {
    const parent = ancestors.at(-2);
    if (
      (node.type === "ArrowFunctionExpression" ||
        node.type === "FunctionExpression" ||
        node.type === "FunctionDeclaration") && !chosen(node)
    ) return;
    switch (node.type) {
      case "ImportDeclaration":
      case "ExportAllDeclaration":
      case "ExportNamedDeclaration":
        if (typeof node.source?.value === "string") {
          imports.push(node.source.value);
        }
        return;
      case "ArrowFunctionExpression":
        if (node.async) {
          // V8 does not see `(async () => ...)` as called at once, but
          // does `(async function () {...})`: the same function when the
          // arrow never uses what an arrow takes from its scope.
          if (bindsLikeAFunction(node)) return;
          // Plain names only: a default value or a pattern may hold code
          // of its own, rewritten already.
          if (node.params.some((param) => param.type !== "Identifier")) return;
          const arrow = source.lastIndexOf("=>", node.body.start);
          // `(a, b = 1)`, or one bare name.
          const written = source.slice(node.start + "async".length, arrow)
            .trim();
          const list = written.startsWith("(") ? written : `(${written})`;
          out.overwrite(
            node.start,
            node.body.start,
            `(async function ${list} `,
          );
          if (node.body.type === "BlockStatement") {
            out.appendLeft(node.end, ")");
          } else {
            out.prependRight(node.body.start, "{ return ");
            out.appendLeft(node.end, "; })");
          }
          wrapped++;
          return;
        }
        if (parent?.type === "ParenthesizedExpression") return;
        // Never the first token of a statement: a "(" there could join
        // the previous line's expression as a call.
        if (
          ancestors.some((a) =>
            a.type === "ExpressionStatement" && a.start === node.start
          )
        ) return;
        parenthesize(node);
        return;
      case "FunctionExpression":
        if (parent?.type === "ParenthesizedExpression") return;
        if (parent?.type === "MethodDefinition") return;
        if (parent?.type === "Property" && parent.kind !== "init") return;
        if (parent?.type === "Property" && parent.method) {
          // `name(a) {...}` -> `name: (function (a) {...})`: the same
          // function but for `super` (then left alone) and `new`.
          if (parent.computed || usesSuper(node)) return;
          const key = source.slice(parent.key.start, parent.key.end);
          // `__proto__: value` would set the prototype, not a property.
          if (key.replace(/^["']|["']$/g, "") === "__proto__") return;
          out.overwrite(
            parent.start,
            node.start,
            `${key}: (${node.async ? "async " : ""}function${
              node.generator ? "*" : ""
            } `,
          );
          out.appendLeft(node.end, ")");
          wrapped++;
          return;
        }
        parenthesize(node);
        return;
      case "FunctionDeclaration": {
        const at = scopeStart(parent);
        if (at === undefined || node.id === null) return;
        const binding = parent?.type === "BlockStatement" &&
            !isFunctionBody(parent, ancestors.at(-3))
          ? "let"
          : "var";
        out.prependRight(node.start, `${binding} ${node.id.name} = (`);
        out.remove(node.id.start, node.id.end);
        out.appendLeft(node.end, ");\n");
        // Already first in its scope: nothing to move (nor can be).
        if (node.start !== at) out.move(node.start, node.end, at);
        hoisted++;
        return;
      }
    }
  });
  return { code: out.toString(), wrapped, hoisted, imports };
}

/**
 * Whether an arrow uses `this`, `arguments`, `super` or `new.target`
 * anywhere in it (nested functions included: a conservative answer).
 */
function bindsLikeAFunction(node: Node): boolean {
  let found = false;
  walk.full(node, (inner: Node) => {
    if (
      inner.type === "ThisExpression" || inner.type === "Super" ||
      inner.type === "MetaProperty" ||
      (inner.type === "Identifier" && inner.name === "arguments")
    ) found = true;
  });
  return found;
}

/** Whether `super` appears in `node` (in it or in its arrows). */
function usesSuper(node: Node): boolean {
  let found = false;
  walk.full(node, (inner: Node) => {
    if (inner.type === "Super") found = true;
  });
  return found;
}

/** Where V8 starts a function: its parameter list (an arrow's first token). */
function v8Start(source: string, node: Node): number {
  if (node.type === "ArrowFunctionExpression") return node.start;
  const after = "id" in node && node.id ? node.id.end : node.start;
  return source.indexOf("(", after);
}

/** Where a declaration directly in `scope` is hoisted to; none for other parents. */
function scopeStart(scope: Node | undefined): number | undefined {
  if (scope?.type === "Program") return 0;
  if (scope?.type === "BlockStatement" || scope?.type === "StaticBlock") {
    return scope.start + 1;
  }
  return undefined;
}

function isFunctionBody(block: Node, owner: Node | undefined): boolean {
  return (owner?.type === "FunctionDeclaration" ||
    owner?.type === "FunctionExpression" ||
    owner?.type === "ArrowFunctionExpression") && owner.body === block;
}

/** The first import cycle among `graph` (file -> files it imports), if any. */
export function importCycle(
  graph: Map<string, string[]>,
): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    const seen = path.indexOf(file);
    if (seen >= 0) return [...path.slice(seen), file];
    if (done.has(file)) return undefined;
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(file);
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

if (import.meta.main) {
  const args = [...Deno.args];
  let profile: Record<string, number[]> = {};
  if (args[0] === "--profile" && args.length === 3) {
    const path = args[1];
    try {
      profile = JSON.parse(Deno.readTextFileSync(path));
    } catch (error) {
      console.error(
        `eager_compile: cannot read the profile ${path}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      Deno.exit(1);
    }
    args.splice(0, 2);
  }
  const [dir] = args;
  if (dir === undefined || args.length !== 1) {
    console.error("usage: eager_compile.ts [--profile PROFILE.json] DIR");
    Deno.exit(2);
  }
  const files = [...Deno.readDirSync(dir)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".js"))
    .map((entry) => entry.name)
    .sort();
  const rewritten = new Map<string, string>();
  const graph = new Map<string, string[]>();
  for (const file of files) {
    try {
      // A module the profile names: only what the login ran.
      const starts = profile[file];
      const result = eagerModule(
        Deno.readTextFileSync(`${dir}/${file}`),
        starts ? new Set(starts) : undefined,
      );
      rewritten.set(file, result.code);
      graph.set(
        file,
        result.imports.filter((specifier) => specifier.startsWith("./"))
          .map((specifier) => specifier.slice(2)),
      );
    } catch (error) {
      console.error(
        `eager_compile: cannot rewrite ${dir}/${file}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      Deno.exit(1);
    }
  }
  const cycle = importCycle(graph);
  if (cycle) {
    console.error(
      `eager_compile: ${dir} has an import cycle (${
        cycle.join(" -> ")
      }): its functions could run before their module (see scripts/eager_compile.ts)`,
    );
    Deno.exit(1);
  }
  for (const [file, code] of rewritten) {
    Deno.writeTextFileSync(`${dir}/${file}`, code);
  }
}
