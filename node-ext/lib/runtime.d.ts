// usdt/runtime - node's own `node` provider (see runtime.js). Requiring the
// module enables it on the main thread; in a worker it does nothing.

/** The hook families and whether each is installed now. */
export interface RuntimeHooks {
  gc: boolean;
  httpServer: boolean;
  httpClient: boolean;
  netServer: boolean;
  netEnd: boolean;
}

export interface RuntimeState {
  /** The provider is defined and loaded. */
  enabled: boolean;
  mainThread: boolean;
  /** The image tracers attach to, or null. */
  path: string | null;
  /** The node.d file the provider was defined from. */
  definition: string | null;
  /** Probes whose semaphore is up now (a tracer is attached). */
  traced: string[];
  installed: RuntimeHooks;
  native: {
    path: string | null;
    watching: boolean;
    /** The GC part's callbacks are installed (gc__start/gc__done traced). */
    gc: boolean;
    /** The GC part's file once loaded, the reason it could not be (then
     * the gc probes do not fire), or null until a tracer first wants them. */
    gcPart: string | null;
    /** How many times the GC part's callbacks fired gc__start and gc__done
     * since it was loaded; null while no GC part is loaded. */
    gcFired: { start: number; done: number } | null;
  };
}

/** Define and load the provider (again after disable()); the image path, or
 * null in a worker thread. */
export function enable(): string | null;
/** Remove every hook and unload the provider. */
export function disable(): void;
/** What is defined and hooked right now. */
export function state(): RuntimeState;
/** The image path while enabled, else null. */
export function path(): string | null;
