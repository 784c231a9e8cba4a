// Type declarations for dtrace-provider (0.8.x API) over usdt.

/** 'int...' fires an int64, 'json...' JSON text, 'char *' and anything else a string. */
export type DTraceType = string;

export declare class DTraceProbe {
  readonly name: string;
  readonly types: string[];
  /** The name in the USDT note: '-' written as '__' (log-info -> log__info). */
  readonly noteName: string;
  /**
   * Run cb(...extra) only while the probe is traced and fire the values of the array it
   * returns (missing ones 0 / "undefined", extra ones ignored; a non-array fires nothing).
   * Returns true while the probe belongs to its provider.
   */
  fire<A extends unknown[]>(cb: (this: DTraceProbe, ...extra: A) => unknown, ...extra: A): true | undefined;
}

export declare class DTraceProvider {
  constructor(name: string, module?: string);
  readonly name: string;
  readonly module: string;
  /** The image tracers attach to by path while enabled, else null. */
  readonly path: string | null;
  /** At most 12 types on Linux. Also sets provider[name]. */
  addProbe(name: string, ...types: DTraceType[]): DTraceProbe;
  removeProbe(probe: DTraceProbe): DTraceProbe | undefined;
  /** Make the probes visible to tracers; a second call does nothing. */
  enable(): void;
  disable(): void;
  /** As probe.fire; undefined for a name with no probe. */
  fire<A extends unknown[]>(name: string, cb: (this: DTraceProbe, ...extra: A) => unknown, ...extra: A): true | undefined;
  [probe: string]: unknown;
}

export declare function createDTraceProvider(name: string, module?: string): DTraceProvider;
export declare function noteName(name: string): string;
export declare const MAX_ARGS: number;
