/**
 * Removes `name value` from `argv` (in place) and returns the value as a number, or `fallback` when the option is
 * absent: the benchmark scripts' numeric options, so that what is left in `argv` is their positional arguments.
 */
export function takeNumberOption(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isFinite(value)) throw new Error(`${name} needs a number, got '${argv[i + 1]}'`);
  argv.splice(i, 2);
  return value;
}
