/**
 * Guesses a CSV file's delimiter from its first lines. Each candidate is
 * counted outside quotes on every line; the winner appears on the header
 * and the same number of times on the most lines, so a comma inside a
 * value of a `;` file (`Porca, trava nylon`, `1.234,56`) does not sway it.
 */

export const delimiterCandidates = [',', ';', '\t', '|'] as const;

const QUOTE = 0x22;
const MAX_LINES = 50;

export function detectDelimiter(
  sample: string,
  candidates: readonly string[] = delimiterCandidates,
): string {
  const lines = splitSampleLines(sample);
  if (lines.length === 0) return ',';

  let best = ',';
  let bestScore = -1;
  for (const candidate of candidates) {
    const code = candidate.charCodeAt(0);
    const counts = lines.map((line) => countOutsideQuotes(line, code));
    const headerCount = counts[0] ?? 0;
    if (headerCount === 0) continue;

    // Lines that agree with the header, then how many fields it makes.
    const agreeing = counts.filter((count) => count === headerCount).length;
    const score =
      (agreeing / counts.length) * 1000 + Math.min(headerCount, 999);
    if (score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The delimiter an Excel `sep=;` first line declares, or undefined when
 * the text does not start with one. Excel writes that line to name the
 * delimiter of the lines after it and never shows it as a row, so the
 * reader takes it as a declaration and skips it (its line still counts).
 * A quote cannot be declared: it would open a quoted field.
 */
export function excelSeparatorLine(text: string): string | undefined {
  return /^sep=([^"\r\n])(?:\r|\n|$)/i.exec(text)?.[1];
}

/**
 * The sample's complete logical lines (a newline inside quotes does not end
 * one); the last line is dropped when the sample was cut through it.
 */
function splitSampleLines(sample: string): string[] {
  const lines: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < sample.length && lines.length < MAX_LINES; i++) {
    const code = sample.charCodeAt(i);
    if (code === QUOTE) quoted = !quoted;
    else if (!quoted && (code === 0x0a || code === 0x0d)) {
      const line = sample.slice(start, i);
      if (line.trim() !== '') lines.push(line);
      if (code === 0x0d && sample.charCodeAt(i + 1) === 0x0a) i++;
      start = i + 1;
    }
  }
  // The last line counts only when it is the whole rest of a short file.
  const rest = sample.slice(start);
  if (lines.length === 0 && rest.trim() !== '') lines.push(rest);
  return lines;
}

function countOutsideQuotes(line: string, code: number): number {
  let count = 0;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === QUOTE) quoted = !quoted;
    else if (c === code && !quoted) count++;
  }
  return count;
}
