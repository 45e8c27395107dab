/**
 * The words ERP exports use for booleans, compared trimmed and
 * case-insensitively (`S`/`N` and `sim`/`não` from Brazilian systems).
 */
export const defaultTrueWords = ['true', 't', '1', 's', 'sim', 'yes', 'y'];
export const defaultFalseWords = ['false', 'f', '0', 'n', 'não', 'nao', 'no'];

/**
 * The lookup of one column: its own words first, so a column may take back
 * a default (a column whose `N` means "new" can say so).
 */
export function createBooleanWords(
  trueValues: readonly string[] = [],
  falseValues: readonly string[] = [],
): Map<string, 't' | 'f'> {
  const words = new Map<string, 't' | 'f'>();
  for (const word of defaultTrueWords) words.set(word, 't');
  for (const word of defaultFalseWords) words.set(word, 'f');
  for (const word of trueValues) words.set(normalizeWord(word), 't');
  for (const word of falseValues) words.set(normalizeWord(word), 'f');
  return words;
}

export function normalizeWord(word: string): string {
  return word.trim().toLowerCase();
}
