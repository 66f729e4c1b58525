// Module state the entry and a part loaded on demand must share.
let counted = 0;

/** Counts one more. */
export function bump(): void {
  counted++;
}

/** How many were counted. */
export function count(): number {
  return counted;
}
