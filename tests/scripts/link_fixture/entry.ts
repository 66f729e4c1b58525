// A face for tests/scripts/link_chunks_test.ts: state and helper are each
// shared with a different part loaded on demand, so the split build makes
// them two chunks the entry loads first.
import { bump, count } from "./state.ts";
import { helper } from "./helper.ts";

bump();
if (Deno.args[0] === "first-only") {
  // The parts loaded on demand are not needed in this run.
  console.log(helper());
} else {
  const { later } = await import("./later.ts");
  const { other } = await import("./other.ts");
  console.log(
    JSON.stringify({ later: later(), other: other(), count: count() }),
  );
  console.log(helper());
}
