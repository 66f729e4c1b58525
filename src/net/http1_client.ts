// A small HTTP/1.1 client over Deno.connect / Deno.startTls, for etcd's
// JSON gateway (src/state/etcd_http.ts): POST requests with a JSON body,
// answers read whole, or as a stream for a watch.
//
// Hand-written rather than Deno's fetch because of what fetch costs a
// login: its modules load on first use, ~6 ms of the first request on the
// session path (measured: 2.5 ms to reach `fetch`, 3 ms for the first
// call, then hyper's set-up), against ~1 ms here, where Deno.connect is
// already loaded for the health checks. No npm package speaks HTTP/1.1
// over Deno's sockets without Node's layer, which would cost more still.
// It also reads no proxy variable at all: a user who sets http_proxy in
// the session's environment cannot steer or read etcd's traffic.
//
// The client keeps idle connections per origin (etcd's gateway keeps them
// open), turns Nagle's algorithm off on each before TLS starts, writes
// each request in one piece, and reads Content-Length or chunked answers.
// Deno sends TLS records as separate small segments: with Nagle on, the
// first request on a new TLS connection waited for etcd's delayed ACK of
// the handshake, ~40 ms per connection (measured). A client certificate
// needs Deno.connectTls, whose connection cannot turn Nagle off: such
// endpoints go through fetch_client.ts instead. A request
// that finds its reused connection closed by the server before any answer
// is sent again once, on a new connection. Errors are thrown with the
// texts src/state/etcd_wire.ts transportReason knows (connection refused,
// reset, "connection closed before message completed", "dns error: ...",
// rustls's certificate and alert texts).

/** TLS settings of a client (PEM texts); absent for plain HTTP. */
export interface Http1Tls {
  caCerts?: string[];
}

/** One POST request. */
export interface Http1Request {
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

/** A whole answer. */
export interface Http1Response {
  status: number;
  text: string;
}

/** An answer whose body is read as it comes (the connection is the stream's). */
export interface Http1StreamingResponse {
  status: number;
  body: ReadableStream<Uint8Array>;
}

// An answer's header block may not exceed this, nor a whole body this.
const MAX_HEADER_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 256 * 1024 * 1024;
const READ_SIZE = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An HTTP/1.1 client with a pool of kept-alive connections per origin. */
export class Http1Client {
  readonly #tls: Http1Tls | undefined;
  readonly #idle = new Map<string, Wire[]>();
  readonly #open = new Set<Wire>();
  #closed = false;
  #whileWaiting: (() => void) | undefined;

  /**
   * `whileWaiting` runs once, right after the first request is written:
   * the caller's synchronous work then overlaps the server's. (Before
   * that point it would not: Deno makes no progress on a connection being
   * opened while JavaScript runs, but a write goes out at once.)
   */
  constructor(tls?: Http1Tls, whileWaiting?: () => void) {
    this.#tls = tls;
    this.#whileWaiting = whileWaiting;
  }

  // Parsed once per URL: a login asks the same few endpoints again and
  // again, and URL parsing is an op of its own in Deno.
  readonly #targets = new Map<string, Target>();

  #target(url: string): Target {
    let target = this.#targets.get(url);
    if (target === undefined) {
      target = parseTarget(url);
      this.#targets.set(url, target);
    }
    return target;
  }

  /** POSTs `request` to `url` and reads the whole answer. */
  async post(url: string, request: Http1Request): Promise<Http1Response> {
    const { target, wire, head, stop } = await this.#send(url, request);
    try {
      const body = await readBody(wire, head);
      if (head.keepAlive && body.complete) this.#release(target, wire);
      else wire.close();
      return {
        status: head.status,
        text: decoder.decode(body.bytes),
      };
    } catch (error) {
      wire.close();
      if (request.signal.aborted) throw request.signal.reason;
      throw error;
    } finally {
      request.signal.removeEventListener("abort", stop);
    }
  }

  /** POSTs `request` to `url`; the answer's body is read as a stream. */
  async postStreaming(
    url: string,
    request: Http1Request,
  ): Promise<Http1StreamingResponse> {
    // The stream ends with the connection, which the signal still closes.
    const { wire, head } = await this.#send(url, request);
    return { status: head.status, body: bodyStream(wire, head) };
  }

  // Sends the request and reads the answer's head, on a kept connection or
  // a new one; the signal closes the connection (`stop`, left listening).
  async #send(url: string, request: Http1Request): Promise<Sent> {
    const target = this.#target(url);
    const bytes = requestBytes(target, request);
    for (let attempt = 0;; attempt++) {
      const { wire, reused } = await this.#wire(target, request.signal);
      const stop = () => wire.close();
      request.signal.addEventListener("abort", stop, { once: true });
      try {
        await wire.write(bytes);
        const work = this.#whileWaiting;
        this.#whileWaiting = undefined;
        work?.();
        return { target, wire, head: await wire.readHead(), stop };
      } catch (error) {
        wire.close();
        request.signal.removeEventListener("abort", stop);
        if (request.signal.aborted) throw request.signal.reason;
        // The server closed a connection it had kept idle: our request was
        // never read, and goes again on a new one.
        if (reused && attempt === 0 && wire.answered === 0) continue;
        throw error;
      }
    }
  }

  /** Closes every connection; requests under way fail. */
  close(): void {
    this.#closed = true;
    for (const wire of this.#open) wire.close();
    this.#open.clear();
    this.#idle.clear();
  }

  async #wire(
    target: Target,
    signal: AbortSignal,
  ): Promise<{ wire: Wire; reused: boolean }> {
    if (this.#closed) throw new Error("client closed");
    signal.throwIfAborted();
    const idle = this.#idle.get(target.origin);
    const kept = idle?.pop();
    if (kept !== undefined) return { wire: kept, reused: true };
    const connecting = connect(target, this.#tls);
    const aborted = new Promise<never>((_, reject) => {
      const stop = () => reject(signal.reason);
      signal.addEventListener("abort", stop, { once: true });
      connecting.finally(() => signal.removeEventListener("abort", stop))
        .catch(() => {});
    });
    let conn: Deno.Conn;
    try {
      conn = await Promise.race([connecting, aborted]);
    } catch (error) {
      // A connection that comes after all is not kept.
      connecting.then((late) => late.close(), () => {});
      throw error;
    }
    // Once per connection, not per request: a handler added at each
    // release piled up on a kept connection (~140 bytes per request, never
    // freed), which the agent's client would carry for weeks.
    const wire = new Wire(conn, () => {
      this.#open.delete(wire);
      const idle = this.#idle.get(target.origin);
      const index = idle?.indexOf(wire) ?? -1;
      if (index >= 0) idle!.splice(index, 1);
    });
    if (this.#closed) {
      wire.close();
      throw new Error("client closed");
    }
    this.#open.add(wire);
    return { wire, reused: false };
  }

  #release(target: Target, wire: Wire): void {
    if (this.#closed || wire.closed) return;
    const idle = this.#idle.get(target.origin) ?? [];
    idle.push(wire);
    this.#idle.set(target.origin, idle);
  }
}

/** A request sent and its answer's head. */
interface Sent {
  target: Target;
  wire: Wire;
  head: Head;
  /** The abort listener that closes the connection. */
  stop: () => void;
}

interface Target {
  origin: string;
  secure: boolean;
  hostname: string;
  port: number;
  /** The request line and Host header, the same for every request. */
  requestHead: string;
}

function parseTarget(url: string): Target {
  const parsed = new URL(url);
  const secure = parsed.protocol === "https:";
  if (!secure && parsed.protocol !== "http:") {
    throw new Error(`unsupported scheme ${parsed.protocol}`);
  }
  const port = parsed.port === "" ? (secure ? 443 : 80) : Number(parsed.port);
  return {
    origin: `${parsed.protocol}//${parsed.host}`,
    secure,
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    requestHead:
      `POST ${parsed.pathname}${parsed.search} HTTP/1.1\r\nhost: ${parsed.host}\r\n`,
  };
}

function requestBytes(target: Target, request: Http1Request): Uint8Array {
  let head = target.requestHead;
  for (const name in request.headers) {
    const value = request.headers[name];
    if (LINE_BREAK.test(name) || LINE_BREAK.test(value)) {
      throw new Error(`header ${JSON.stringify(name)} holds a line break`);
    }
    head += `${name}: ${value}\r\n`;
  }
  // etcd's bodies are JSON of base64 and numbers: ASCII, whose length in
  // bytes is its length, so the request is encoded in one piece.
  if (!BEYOND_ASCII.test(request.body)) {
    return encoder.encode(
      `${head}content-length: ${request.body.length}\r\n\r\n${request.body}`,
    );
  }
  const body = encoder.encode(request.body);
  const headBytes = encoder.encode(
    `${head}content-length: ${body.length}\r\n\r\n`,
  );
  const bytes = new Uint8Array(headBytes.length + body.length);
  bytes.set(headBytes);
  bytes.set(body, headBytes.length);
  return bytes;
}

const LINE_BREAK = /[\r\n]/;
const BEYOND_ASCII = /[\u0080-\uffff]/;

async function connect(
  target: Target,
  tls: Http1Tls | undefined,
): Promise<Deno.Conn> {
  try {
    const tcp = await Deno.connect({
      hostname: target.hostname,
      port: target.port,
    });
    tcp.setNoDelay(true);
    if (!target.secure) return tcp;
    let conn: Deno.TlsConn;
    try {
      conn = await Deno.startTls(tcp, {
        hostname: target.hostname,
        ...(tls?.caCerts ? { caCerts: tls.caCerts } : {}),
      });
    } catch (error) {
      try {
        tcp.close();
      } catch {
        // taken by the failed start already
      }
      throw error;
    }
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // Deno's resolver failure, in the words transportReason knows.
    if (/failed to lookup address|Name or service not known/i.test(text)) {
      throw new Error(`dns error: ${text}`, { cause: error });
    }
    throw error;
  }
}

interface Head {
  status: number;
  keepAlive: boolean;
  chunked: boolean;
  /** Content-Length, when given (and not chunked). */
  length?: number;
}

/** One connection and what was read on it but not consumed yet. */
class Wire {
  closed = false;
  /** Bytes of the current request's answer received so far. */
  answered = 0;
  #buffer = new Uint8Array(0);
  #scratch: Uint8Array | undefined;

  constructor(readonly conn: Deno.Conn, readonly onClose: () => void) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.onClose();
  }

  /** Writes a request (whose answer is then counted from zero). */
  async write(bytes: Uint8Array): Promise<void> {
    this.answered = 0;
    let written = 0;
    while (written < bytes.length) {
      written += await this.conn.write(bytes.subarray(written));
    }
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async fill(): Promise<boolean> {
    // One read buffer per connection, its bytes copied out at once: a new
    // 64 KiB buffer at every read was zeroed memory a login paid ~6 times.
    const chunk = this.#scratch ??= new Uint8Array(READ_SIZE);
    const count = await this.conn.read(chunk);
    if (count === null) return false;
    this.answered += count;
    const grown = new Uint8Array(this.#buffer.length + count);
    grown.set(this.#buffer);
    grown.set(chunk.subarray(0, count), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /** Takes `count` buffered bytes. */
  take(count: number): Uint8Array {
    const taken = this.#buffer.subarray(0, count);
    this.#buffer = this.#buffer.subarray(count);
    return taken;
  }

  /** Index of CRLF in the buffer from `from`, or -1. */
  lineEnd(from = 0): number {
    const buffer = this.#buffer;
    for (let i = from; i + 1 < buffer.length; i++) {
      if (buffer[i] === 13 && buffer[i + 1] === 10) return i;
    }
    return -1;
  }

  /** A CRLF-terminated line's bytes (without it); throws at the end of the stream. */
  async readLine(limit: number): Promise<Uint8Array> {
    let end = this.lineEnd();
    while (end < 0) {
      if (this.#buffer.length > limit) throw new Error("answer line too long");
      const from = Math.max(0, this.#buffer.length - 1);
      if (!await this.fill()) throw closedEarly();
      end = this.lineEnd(from);
    }
    const line = this.take(end);
    this.take(2);
    return line;
  }

  /** Reads exactly `count` bytes (buffered ones first). */
  async readExactly(count: number): Promise<Uint8Array> {
    const out = new Uint8Array(count);
    let filled = Math.min(count, this.#buffer.length);
    out.set(this.take(filled));
    while (filled < count) {
      const read = await this.conn.read(out.subarray(filled));
      if (read === null) throw closedEarly();
      this.answered += read;
      filled += read;
    }
    return out;
  }

  /** Index of the CRLF CRLF ending a head in the buffer from `from`, or -1. */
  headEnd(from = 0): number {
    const buffer = this.#buffer;
    for (let i = from; i + 3 < buffer.length; i++) {
      if (
        buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 &&
        buffer[i + 3] === 10
      ) return i;
    }
    return -1;
  }

  /** Drops `count` bytes of the stream (buffered ones first). */
  async skip(count: number): Promise<void> {
    while (this.#buffer.length < count) {
      if (!await this.fill()) throw closedEarly();
    }
    this.take(count);
  }

  /**
   * The status line and headers of an answer, read and decoded as one
   * piece: line by line, each answer cost a promise, views and strings per
   * header, which an idle session's keep-alives repeat all session long.
   */
  async readHead(): Promise<Head> {
    for (;;) {
      let end = this.headEnd();
      while (end < 0) {
        if (this.#buffer.length > MAX_HEADER_BYTES) {
          throw new Error("answer headers too long");
        }
        const from = Math.max(0, this.#buffer.length - 3);
        if (!await this.fill()) throw closedEarly();
        end = this.headEnd(from);
      }
      if (end > MAX_HEADER_BYTES) throw new Error("answer headers too long");
      // Decoded whole, and only the three headers that frame the answer
      // are looked at: line by line, an etcd answer's ten headers cost
      // ~7 KiB of strings and arrays per request (measured), which an
      // idle session's keep-alives repeat all session long. Bytes beyond
      // ASCII become U+FFFD, in values this client never reads.
      const head = decoder.decode(this.take(end));
      this.take(4);
      const match = STATUS_LINE.exec(head);
      if (!match) {
        const statusLine = head.split("\r\n", 1)[0];
        throw new Error(
          `not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 80))}`,
        );
      }
      const status = Number(match[2]);
      // 1xx answers (100 Continue) precede the real one.
      if (status >= 100 && status < 200) continue;
      let keepAlive = match[1] === "1";
      let chunked = false;
      let length: number | undefined;
      FRAMING_HEADER.lastIndex = 0;
      for (
        let header = FRAMING_HEADER.exec(head);
        header !== null;
        header = FRAMING_HEADER.exec(head)
      ) {
        const name = header[1].toLowerCase();
        const value = header[2].trim().toLowerCase();
        if (name === "content-length") {
          if (!/^\d+$/.test(value)) throw new Error("bad content-length");
          length = Number(value);
        } else if (name === "transfer-encoding") {
          chunked = value.split(",").map((part) => part.trim()).includes(
            "chunked",
          );
        } else {
          const options = value.split(",").map((part) => part.trim());
          if (options.includes("close")) keepAlive = false;
          if (options.includes("keep-alive")) keepAlive = true;
        }
      }
      return {
        status,
        keepAlive,
        chunked,
        ...(chunked ? {} : length === undefined ? {} : { length }),
      };
    }
  }

  /**
   * The size of the next chunk of a chunked body, from its size line
   * (extensions ignored), read from the bytes: no string per chunk.
   */
  async readChunkSize(): Promise<number> {
    const line = await this.readLine(1024);
    let size = 0;
    let digits = 0;
    let at = 0;
    while (at < line.length && (line[at] === 32 || line[at] === 9)) at++;
    for (; at < line.length; at++) {
      const digit = hexDigit(line[at]);
      if (digit < 0) break;
      size = size * 16 + digit;
      digits++;
      if (size > MAX_BODY_BYTES) throw new Error("answer too large");
    }
    while (at < line.length && (line[at] === 32 || line[at] === 9)) at++;
    if (digits === 0 || (at < line.length && line[at] !== 59)) {
      throw new Error(
        `bad chunk size ${JSON.stringify(decoder.decode(line).slice(0, 40))}`,
      );
    }
    return size;
  }
}

// The status line at the start of a head.
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})/;

// The headers that say where an answer ends, anywhere after the status line.
const FRAMING_HEADER =
  /\r\n(content-length|transfer-encoding|connection)[ \t]*:([^\r]*)/gi;

// The value of an ASCII hexadecimal digit, or -1.
function hexDigit(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  if (byte >= 97 && byte <= 102) return byte - 87;
  if (byte >= 65 && byte <= 70) return byte - 55;
  return -1;
}

function closedEarly(): Error {
  return new Error("connection closed before message completed");
}

// The next piece of a chunked body; undefined after the last chunk (and
// its trailer).
async function nextChunk(wire: Wire): Promise<Uint8Array | undefined> {
  const size = await wire.readChunkSize();
  if (size === 0) {
    while ((await wire.readLine(MAX_HEADER_BYTES)).length > 0) {
      // trailer fields: none that matter
    }
    return undefined;
  }
  const data = await wire.readExactly(size);
  await wire.skip(2);
  return data;
}

async function readBody(
  wire: Wire,
  head: Head,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (head.status === 204 || head.status === 304) {
    return { bytes: new Uint8Array(0), complete: true };
  }
  if (head.chunked) {
    const pieces: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const piece = await nextChunk(wire);
      if (piece === undefined) break;
      total += piece.length;
      if (total > MAX_BODY_BYTES) throw new Error("answer too large");
      pieces.push(piece);
    }
    return {
      bytes: pieces.length === 1 ? pieces[0] : concat(pieces, total),
      complete: true,
    };
  }
  if (head.length !== undefined) {
    if (head.length > MAX_BODY_BYTES) throw new Error("answer too large");
    return { bytes: await wire.readExactly(head.length), complete: true };
  }
  // Neither: the body lasts until the server closes the connection.
  const pieces: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const piece = wire.take(wire.buffered).slice();
    total += piece.length;
    if (total > MAX_BODY_BYTES) throw new Error("answer too large");
    pieces.push(piece);
    if (!await wire.fill()) break;
  }
  return { bytes: concat(pieces, total), complete: false };
}

function bodyStream(wire: Wire, head: Head): ReadableStream<Uint8Array> {
  let left = head.length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (head.chunked) {
          const piece = await nextChunk(wire);
          if (piece === undefined) {
            wire.close();
            controller.close();
          } else controller.enqueue(piece);
          return;
        }
        if (left === 0) {
          wire.close();
          controller.close();
          return;
        }
        if (wire.buffered === 0 && !await wire.fill()) {
          wire.close();
          if (left === undefined) controller.close();
          else controller.error(closedEarly());
          return;
        }
        const count = left === undefined
          ? wire.buffered
          : Math.min(left, wire.buffered);
        if (left !== undefined) left -= count;
        controller.enqueue(wire.take(count).slice());
      } catch (error) {
        wire.close();
        controller.error(error);
      }
    },
    cancel() {
      wire.close();
    },
  });
}

function concat(pieces: Uint8Array[], total: number): Uint8Array {
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece, offset);
    offset += piece.length;
  }
  return bytes;
}
