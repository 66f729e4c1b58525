// How a session reads its configuration's YAML: the simple reader
// (yaml_simple.ts) when the file is in its subset, else the `yaml` package
// (yaml_tree.ts), loaded only then: its code is a separate part of the
// prebuilt program (scripts/bundle.sh), which most logins never load.
import { fail, ok, type Result } from "../result.ts";
import { sizeProblem, type YamlTree } from "./yaml_document.ts";
import { readSimpleYaml } from "./yaml_simple.ts";

/** The tree of `text`, as yaml_tree.ts's parseYamlTree reads it. */
export async function readYamlTree(text: string): Promise<Result<YamlTree>> {
  const tooLarge = sizeProblem(text);
  if (tooLarge !== undefined) return fail(tooLarge);
  const simple = readSimpleYaml(text);
  if (simple !== undefined) return ok(simple);
  const { parseYamlTreeWithPackage } = await import("./yaml_tree.ts");
  return parseYamlTreeWithPackage(text);
}
