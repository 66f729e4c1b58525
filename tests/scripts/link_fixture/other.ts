import { helper } from "./helper.ts";

/** The helper's value, from a part loaded on demand. */
export function other(): string {
  return `other ${helper()}`;
}
