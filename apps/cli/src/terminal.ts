/**
 * Everything printed to a terminal goes through here. Strings recorded from agents are hostile until proven
 * otherwise: an ANSI/OSC escape in a tool output could recolour, retitle or rewrite the investigator's screen.
 */

// C0 controls, DEL, C1 controls (U+009B is a one-byte CSI), and bidirectional overrides/isolates (Trojan Source).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_KEEP_NEWLINES = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(char: string): string {
  const code = char.charCodeAt(0);
  if (char === '\n') return '\\n';
  if (char === '\r') return '\\r';
  if (char === '\t') return '\\t';
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** ES2024 string methods present in Node >= 20 but not in the ES2023 type library we compile against. */
interface WellFormed {
  toWellFormed(): string;
}

/** Makes a string safe to print: control characters become visible escapes (\x1b, \n, \u202e). */
export function sanitize(text: string, options: { keepNewlines?: boolean } = {}): string {
  // Lone surrogates become U+FFFD: a terminal cannot render them and some mangle the following output.
  const well = (text as unknown as WellFormed).toWellFormed();
  return well.replace(options.keepNewlines ? UNSAFE_KEEP_NEWLINES : UNSAFE, escapeChar);
}

// JSON escapes C0 controls but leaves DEL, C1 controls and bidi overrides raw. Escaping them as \uXXXX keeps JSON
// text identical in meaning (they can only occur inside strings) and harmless on a terminal. Raw C0 characters are
// invalid in JSON, but a forged record may contain them: they are escaped the same way. Newlines stay: records never
// contain one, and pretty-printed JSON needs them between tokens.
const JSON_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** JSON text with every character a terminal would act on written as a \uXXXX escape. */
export function escapeForTerminal(json: string): string {
  return json.replace(JSON_UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** JSON text (pretty-printed) that is also safe to show on a terminal. */
export function terminalSafeJson(value: unknown): string {
  return escapeForTerminal(JSON.stringify(value, null, 2));
}

export function truncate(text: string, width: number): string {
  if (width <= 1 || text.length <= width) return text;
  return `${text.slice(0, width - 1)}…`;
}

export interface Style {
  enabled: boolean;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/** Colours only on a TTY and never with NO_COLOR (https://no-color.org). */
export function styleFor(stream: NodeJS.WriteStream): Style {
  const enabled = Boolean(stream.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    enabled,
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

/** Column width for truncating one-line output; generous when not a terminal so pipes keep whole lines. */
export function outputWidth(stream: NodeJS.WriteStream): number {
  return stream.isTTY ? Math.max(40, stream.columns ?? 80) : 200;
}
