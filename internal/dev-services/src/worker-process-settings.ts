/**
 * How the project's own scripts start a worker process, as the README's
 * "Worker memory" recommends a host start its own: V8's young generation
 * kept small in the main thread (the COPY buffers that die young are
 * freed soon), and glibc's malloc kept to two arenas (each parse thread
 * would otherwise take an arena of its own, and the memory one import
 * freed stays with it, raising the next import's peak).
 */
export const workerProcessSettings = {
  execArgv: ['--max-semi-space-size=6'],
  env: { MALLOC_ARENA_MAX: '2' },
} as const;
