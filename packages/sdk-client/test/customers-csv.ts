/** `count` Northwind-shaped customers as CSV text. */
export function customersCsv(count: number, prefix = 'C'): string {
  const lines = [
    'customerID,companyName,contactName,contactTitle,address,city,region,' +
      'postalCode,country,phone,fax',
  ];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${String(i).padStart(6, '0')}`;
    lines.push(
      `${id},Company ${i},Contact ${i},Owner,"Street ${i}, ${i % 97}",` +
        `City ${i % 13},NULL,${String(i % 100000).padStart(5, '0')},` +
        `Brazil,555-${i},NULL`,
    );
  }
  return lines.join('\n') + '\n';
}
