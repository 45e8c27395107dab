/**
 * Strings a store is likely to mangle, for the suites to store and read
 * back. What the engine writes about a bad file quotes the file (a header
 * cell, a ragged row's text), so any of these can reach a port: NUL,
 * which PostgreSQL text cannot hold; lone surrogates, which are not
 * well-formed UTF-16 and turn into U+FFFD on the way to UTF-8; and text
 * that looks like an escaped form of them. Each surrogate case has a
 * U+FFFD twin, so a store that replaces one makes two of them collide.
 */
export const awkwardText: readonly string[] = [
  'nul \u0000 inside',
  '\u0000\u0000',
  'lone high \ud800',
  'lone high \ufffd',
  '\udc00 lone low',
  '\ufffd lone low',
  'swapped \udc00\ud800',
  'a pair is fine \ud83d\ude00',
  'noncharacter \uffff',
  'escape-like \uffff0000 \uffffd800 \\u0000 \\0 %00 %uD800',
  'quote " backslash \\ newline \n tab \t',
];
