/**
 * Values read from files, quoted in error messages: always one short line, and never a throw (a crafted
 * model.json can hold strings of megabytes, newlines, or arrays nested deeper than JSON.stringify's stack).
 */

/** Control characters (newlines included) written as escapes, so a message stays on one line. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A string cut to `max` characters (with an ellipsis) and put on one line. */
export function clip(text: string, max = 80): string {
  return oneLine(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** A JSON value as JSON, cut to `max` characters; deeply nested values are described instead. */
export function brief(value: unknown, max = 80): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // RangeError: nested too deeply for the stack.
    return Array.isArray(value) ? 'a deeply nested array' : 'a deeply nested object';
  }
  if (json === undefined) return String(value);
  return clip(json, max);
}
