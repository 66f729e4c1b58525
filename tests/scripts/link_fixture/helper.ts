/** A value the entry and another part share. */
export function helper(): string {
  return "helper";
}
