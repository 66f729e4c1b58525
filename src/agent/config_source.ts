// The agent's configuration: the same file the sessions read, parsed once
// and parsed again when it changes. The file is looked at (one stat) before
// every routing decision and every few seconds in the background, so a
// decision never uses an older file than the session that asked read. A
// changed file that does not load keeps the previous one in force, with
// one ERROR line per distinct problem.
import { readConfigFile } from "../config/load.ts";
import type { ParsedConfig } from "../config/resolve.ts";
import type { Level } from "../log/format.ts";
import { fail, ok, type Result } from "../result.ts";

/** One loaded version of the file. */
export interface LoadedConfig {
  parsed: ParsedConfig;
  /** The file's canonical path (sessions must name the same file). */
  realPath: string;
  /** What identifies this version of the file. */
  signature: string;
}

/** What is needed to read the file (tests replace the reader). */
export interface ConfigReading {
  read(path: string): Promise<Result<ParsedConfig>>;
  log(level: Level, message: string): void;
}

const DEFAULT_READING: Omit<ConfigReading, "log"> = {
  read: (path) => readConfigFile(path),
};

// Device, inode, size and times: a rewrite in place or an atomic rename
// both change at least one of them.
// Synchronous: every decision checks the file first, and a stat is a few
// microseconds where a trip through the runtime's thread pool is ~0.3 ms
// (more on a busy gateway) of a login waiting for its route.
function signatureOf(path: string): Result<string> {
  try {
    const info = Deno.statSync(path);
    return ok(
      [
        info.dev,
        info.ino,
        info.size,
        info.mtime?.getTime(),
        info.ctime?.getTime(),
      ].join(":"),
    );
  } catch (error) {
    return fail(
      `${path}: cannot read: ${error instanceof Error ? error.message : error}`,
    );
  }
}

/** The current configuration and its reloading. */
export class ConfigSource {
  readonly path: string;
  readonly #reading: ConfigReading;
  #current: LoadedConfig | undefined;
  #lastProblem: string | undefined;
  #checking: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #listeners: ((loaded: LoadedConfig) => void)[] = [];
  /** Successful reloads and refused new versions, for the metrics. */
  readonly reloads = { ok: 0, failed: 0 };

  constructor(
    path: string,
    log: (level: Level, message: string) => void,
    reading: Partial<ConfigReading> = {},
  ) {
    this.path = path;
    this.#reading = { ...DEFAULT_READING, log, ...reading };
  }

  /** Loads the file for the first time; its error is fatal for the agent. */
  async load(): Promise<Result<LoadedConfig>> {
    const loaded = await this.#load();
    if (!loaded.ok) return loaded;
    this.#current = loaded.value;
    return loaded;
  }

  /** The configuration in force. */
  get current(): LoadedConfig {
    if (this.#current === undefined) {
      throw new Error("configuration not loaded");
    }
    return this.#current;
  }

  /** Called with each new version that loaded. */
  onChange(listener: (loaded: LoadedConfig) => void): void {
    this.#listeners.push(listener);
  }

  async #load(): Promise<Result<LoadedConfig>> {
    const before = signatureOf(this.path);
    if (!before.ok) return before;
    const parsed = await this.#reading.read(this.path);
    if (!parsed.ok) return parsed;
    let realPath: string;
    try {
      realPath = await Deno.realPath(this.path);
    } catch (error) {
      return fail(
        `${this.path}: ${error instanceof Error ? error.message : error}`,
      );
    }
    return ok({ parsed: parsed.value, realPath, signature: before.value });
  }

  /** Re-reads the file if it changed since it was loaded (concurrent calls share one check). */
  refresh(): Promise<void> {
    this.#checking ??= this.#refresh().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #refresh(): Promise<void> {
    const signature = signatureOf(this.path);
    const current = this.#current;
    if (signature.ok && signature.value === current?.signature) return;
    if (signature.ok && signature.value === this.#lastProblem?.split("\0")[0]) {
      return; // the same bad version, already reported
    }
    const loaded = await this.#load();
    if (!loaded.ok) {
      const key = `${signature.ok ? signature.value : ""}\0${loaded.error}`;
      if (key !== this.#lastProblem) {
        this.#lastProblem = key;
        this.reloads.failed++;
        this.#reading.log(
          "ERROR",
          `configuration not reloaded, the previous one stays in force: ${loaded.error}`,
        );
      }
      return;
    }
    this.#lastProblem = undefined;
    this.#current = loaded.value;
    this.reloads.ok++;
    this.#reading.log("INFO", `configuration reloaded from ${this.path}`);
    for (const listener of this.#listeners) listener(loaded.value);
  }

  /** Looks for changes every `intervalMs` in the background. */
  watch(intervalMs: number): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking;
  }
}
