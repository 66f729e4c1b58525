// The YAML 1.1 tags as go-yaml v2 resolves them, for the `yaml` package
// (yaml_tree.ts composes with them, yaml_simple.ts resolves scalars with
// them, convert.ts quotes with them).
// @ts-types="yaml"
import type { Tags } from "yaml/esm";

// go-yaml v2 has no sexagesimal numbers (`1:20` is the string "1:20", not
// 80) and, through Go's strconv, reads `0o17` as octal 15.
const goOctal = {
  identify: (value: unknown) => typeof value === "bigint",
  default: true,
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  test: /^[-+]?0o[0-7_]+$/,
  resolve: (text: string) => {
    const negative = text.startsWith("-");
    const digits = text.replace(/^[-+]?0o/, "").replaceAll("_", "");
    const value = BigInt(`0o${digits}`);
    return negative ? -value : value;
  },
};

/** The YAML 1.1 tags as go-yaml v2 resolves them (for parsing and quoting). */
export function goYamlTags(tags: Tags): Tags {
  return [
    ...tags.filter((tag) =>
      typeof tag === "string" || !("format" in tag && tag.format === "TIME")
    ),
    goOctal,
  ];
}
