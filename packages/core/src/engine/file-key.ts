/**
 * The file store key of an import: `${tenant}/${id}`, with the tenant
 * reduced to characters every store takes as they are. The id is a uuid,
 * so two tenants that reduce to the same text still get distinct keys.
 */
export function fileKeyFor(tenant: string, importId: string): string {
  const safeTenant = tenant.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
  return `${safeTenant}/${importId}`;
}
