// Type declarations for `usdt`: USDT probes for Node.js over libusdt.

/** Argument types: fixed-width integers (Number or BigInt, exact), UTF-8 strings, JSON. */
export type ProbeType =
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'string' | 'json'
  | 'int8_t' | 'uint8_t' | 'int16_t' | 'uint16_t' | 'int32_t' | 'uint32_t' | 'int64_t' | 'uint64_t'
  | 'char *' | 'const char *';

/** The JS value each type accepts when firing. */
export type ProbeValue<T extends ProbeType> =
  T extends 'string' | 'char *' | 'const char *' ? string :
  T extends 'json' ? unknown :
  number | bigint;

export type ProbeValues<T extends readonly ProbeType[]> = { [K in keyof T]: T[K] extends ProbeType ? ProbeValue<T[K]> : never };

export interface ProviderOptions {
  /** Directory for the probe image file (default: $USDT_DIR, $XDG_RUNTIME_DIR/usdt, /tmp/usdt-EUID). */
  dir?: string;
  /** 'file' (tracers can attach by path), 'memfd' (by pid only) or 'auto' (a file if possible). */
  storage?: 'auto' | 'file' | 'memfd';
  /** How probe sites are encoded; 'default' is the fastest correct one. */
  site?: 'default' | 'nop5' | 'nop1';
}

export interface FromDOptions extends ProviderOptions {
  /** Which provider to take when the text defines several. */
  provider?: string;
  /** Names the text in error messages (fromD only). */
  filename?: string;
}

export declare class Probe<T extends readonly ProbeType[] = ProbeType[]> {
  private constructor();
  readonly name: string;
  readonly provider: Provider;
  readonly types: readonly string[];
  readonly argc: number;
  /** True while a tracer is attached (one typed-array load, no native call). */
  readonly enabled: boolean;
  /**
   * Fire with one value per argument. Untraced: returns at once. Traced: each value is checked
   * exactly (TypeError for a wrong kind or count, RangeError for a fraction, a value outside the
   * type or a Number beyond 2^53) and reaches the tracer.
   */
  fire(...args: ProbeValues<T>): void;
}

export declare class Provider {
  /** name: [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes. */
  constructor(name: string, options?: ProviderOptions);
  /** A provider from DTrace syntax: `provider app { probe req__start(int64_t, char *); };` */
  static fromD(text: string, options?: FromDOptions): Provider;
  /** As fromD(), reading a .d file. */
  static fromDFile(path: string, options?: Omit<FromDOptions, 'filename'>): Provider;

  readonly name: string;
  readonly loaded: boolean;
  /** The image's path as tracers name it (a file, or /proc/PID/fd/N for a memfd), null when not loaded. */
  readonly path: string | null;
  readonly memfd: boolean;
  /** The probes in definition order (a copy). */
  readonly probes: Probe[];

  /** Define a probe; only before load(). At most 12 arguments. */
  probe<T extends ProbeType[]>(name: string, ...types: T): Probe<T>;
  probe<T extends ProbeType[]>(name: string, types: [...T]): Probe<T>;
  getProbe(name: string): Probe | undefined;

  /** Make the probes visible to tracers. Throws (code EALREADY) when loaded. */
  load(): this;
  /** Take the probes away; they then read disabled. Throws (code EALREADY) when not loaded. */
  unload(): this;

  /** Call fn on this thread when a probe becomes traced or untraced. Never keeps the process alive. */
  watch(fn: (probe: Probe, enabled: boolean) => void): this;
  unwatch(): this;
}

/** The most arguments a probe takes (12: bpftrace's and libbpf's limit). */
export declare const MAX_ARGS: number;
export declare const types: readonly string[];
