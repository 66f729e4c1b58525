// The etcd client's transport for endpoints that ask for a client
// certificate: Deno's fetch, through an HTTP client that never uses a
// proxy (direct_http_client.ts).
//
// Http1Client (http1_client.ts) is cheaper to load and serves plain HTTP
// and TLS without a client certificate, on a socket whose Nagle algorithm
// it turns off before TLS starts. With a client certificate it cannot: only
// Deno.connectTls takes one, and its connection has no setNoDelay. Deno
// then sends the handshake's last records and the first request as
// separate small segments, and the request waits for etcd's delayed ACK:
// ~40 ms on each new connection, two per login (measured: 43 ms per
// connection against 1.5 ms with Nagle off). Deno's fetch (hyper) writes
// those records in one piece: a full handshake does not wait (etcd's
// session tickets, sent after it checked the client's certificate, carry
// the ACK), but a resumed one, on a second connection, still did. A
// session therefore sends its requests one at a time on one connection
// (`oneAtATime`); the agent, long-lived, keeps hyper's pool. fetch's
// modules cost a few milliseconds to load, once per process.
import { createDirectHttpClient } from "./direct_http_client.ts";
import type {
  Http1Request,
  Http1Response,
  Http1StreamingResponse,
} from "./http1_client.ts";

/** How a FetchClient behaves. */
export interface FetchClientOptions {
  /** Runs once, when the first request has been handed to fetch. */
  whileWaiting?: () => void;
  /** Whole requests (post) one at a time, so that one connection serves all. */
  oneAtATime?: boolean;
}

/** POST requests over Deno's fetch, with Http1Client's interface. */
export class FetchClient {
  readonly #client: Deno.HttpClient;
  readonly #oneAtATime: boolean;
  #whileWaiting: (() => void) | undefined;
  // The last request in line, when one at a time.
  #line: Promise<unknown> = Promise.resolve();

  /** Throws what Deno.createHttpClient throws (unusable TLS material). */
  constructor(
    clientOptions: Deno.CreateHttpClientOptions,
    options: FetchClientOptions = {},
  ) {
    this.#client = createDirectHttpClient(clientOptions);
    this.#whileWaiting = options.whileWaiting;
    this.#oneAtATime = options.oneAtATime ?? false;
  }

  /** POSTs `request` to `url` and reads the whole answer. */
  post(url: string, request: Http1Request): Promise<Http1Response> {
    const exchange = async () => {
      const response = await this.#fetch(url, request);
      return { status: response.status, text: await response.text() };
    };
    if (!this.#oneAtATime) return exchange();
    const turn = this.#line.then(exchange, exchange);
    this.#line = turn.catch(() => {});
    return turn;
  }

  /** POSTs `request` to `url`; the answer's body is read as a stream. */
  async postStreaming(
    url: string,
    request: Http1Request,
  ): Promise<Http1StreamingResponse> {
    const response = await this.#fetch(url, request);
    return {
      status: response.status,
      body: response.body ?? new Blob([]).stream(),
    };
  }

  /** Closes the kept connections. */
  close(): void {
    this.#client.close();
  }

  #fetch(url: string, request: Http1Request): Promise<Response> {
    const pending = fetch(url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      signal: request.signal,
      client: this.#client,
    });
    const work = this.#whileWaiting;
    this.#whileWaiting = undefined;
    work?.();
    return pending;
  }
}
