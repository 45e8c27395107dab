/**
 * How a source field's name is compared with a column's names: trimmed,
 * without BOMs, lower-case and without accents, so that `Código`, `codigo`
 * and ` CODIGO` name the same column. Header matching reads names this
 * way, and registration refuses two columns that it cannot tell apart.
 */
export function normalizeFieldName(name: string): string {
  return name
    .replace(/\uFEFF/g, '')
    .trim()
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase();
}
