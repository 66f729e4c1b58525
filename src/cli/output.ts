// Writing to the standard streams, whole and synchronously, so nothing is
// lost when a face exits right after printing.
const encoder = new TextEncoder();

function writeAll(
  stream: { writeSync(data: Uint8Array): number },
  text: string,
): void {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(stream.writeSync(data));
}

/** Writes text to stdout. */
export function printOut(text: string): void {
  writeAll(Deno.stdout, text);
}

/** Writes text to stderr. */
export function printErr(text: string): void {
  writeAll(Deno.stderr, text);
}
