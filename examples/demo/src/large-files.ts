/**
 * Large generated files for large-import.ts, one generator per format.
 * Each yields text as it goes, so a file of any size is never on disk or
 * whole in memory, and tallies what it wrote: the records the import must
 * then report, per entity.
 */

export type LargeFormat = 'csv' | 'json' | 'xml';

export interface LargeFile {
  /** The example entity the file is for. */
  entity: string;
  format: LargeFormat;
  contentType: string;
  /** The tables the import writes, children first (for cleaning up). */
  tables: string[];
  chunks(): AsyncGenerator<string>;
  /** Records written so far, by entity; final once `chunks` is done. */
  written: Map<string, number>;
}

export interface LargeFileOptions {
  format: LargeFormat;
  /** csv: how many rows. */
  rows: number;
  /** json and xml: about how many bytes. */
  bytes: number;
}

// Text is yielded in batches of about this size.
const batchChars = 256 * 1024;

export function largeFile(options: LargeFileOptions): LargeFile {
  switch (options.format) {
    case 'csv':
      return csvPrices(options.rows);
    case 'json':
      return jsonProducts(options.bytes);
    case 'xml':
      return xmlInvoices(options.bytes);
  }
}

/** The demo's price list: what a Brazilian ERP writes, `;` and `1,23`. */
function csvPrices(rows: number): LargeFile {
  const written = new Map([['demo_prices', 0]]);
  async function* chunks(): AsyncGenerator<string> {
    yield 'Código;Descrição;Preço;Vigência;Ativo\r\n';
    let batch = '';
    for (let i = 1; i <= rows; i++) {
      const cents = 100 + ((i * 7919) % 1_000_000);
      const price = `${Math.floor(cents / 100)},${String(cents % 100).padStart(2, '0')}`;
      const day = String((i % 28) + 1).padStart(2, '0');
      batch += `${String(i).padStart(8, '0')};Produto ${i};${price};${day}/07/2024;S\r\n`;
      written.set('demo_prices', i);
      if (batch.length >= batchChars) {
        yield batch;
        batch = '';
      }
    }
    if (batch) yield batch;
  }
  return {
    entity: 'demo_prices',
    format: 'csv',
    contentType: 'text/csv',
    tables: ['demo_prices'],
    chunks,
    written,
  };
}

/** A JSON array of Northwind-shaped products, about `bytes` long. */
function jsonProducts(bytes: number): LargeFile {
  const written = new Map([['products', 0]]);
  async function* chunks(): AsyncGenerator<string> {
    let size = 0;
    let batch = '[\n';
    for (let i = 1; size + batch.length < bytes; i++) {
      const cents = 100 + ((i * 7919) % 1_000_000);
      const price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
      batch +=
        `${i === 1 ? '' : ',\n'}  {"productID": ${i}, "supplierID": ${(i % 29) + 1}, ` +
        `"categoryID": ${(i % 8) + 1}, "quantityPerUnit": "${(i % 48) + 1} boxes", ` +
        `"unitPrice": ${price}, "unitsInStock": ${i % 120}, "unitsOnOrder": ${i % 7}, ` +
        `"reorderLevel": ${i % 30}, "discontinued": ${i % 10 === 0}, ` +
        `"name": "Product \\"${i}\\" \\u00e9 bom"}`;
      written.set('products', i);
      if (batch.length >= batchChars) {
        size += batch.length;
        yield batch;
        batch = '';
      }
    }
    yield `${batch}\n]\n`;
  }
  return {
    entity: 'products',
    format: 'json',
    contentType: 'application/json',
    tables: ['products'],
    chunks,
    written,
  };
}

const itemsPerInvoice = 5;

/**
 * NF-e invoices in one document, about `bytes` long, each with five
 * items: the shape of the real sample, less the taxes and signature.
 */
function xmlInvoices(bytes: number): LargeFile {
  const written = new Map([
    ['nfe_invoices', 0],
    ['nfe_invoice_items', 0],
  ]);
  async function* chunks(): AsyncGenerator<string> {
    let size = 0;
    let batch =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<lote xmlns="http://www.portalfiscal.inf.br/nfe">\n';
    let invoice = 0;
    while (size + batch.length < bytes) {
      invoice += 1;
      batch += invoiceXml(invoice);
      written.set('nfe_invoices', invoice);
      written.set('nfe_invoice_items', invoice * itemsPerInvoice);
      if (batch.length >= batchChars) {
        size += batch.length;
        yield batch;
        batch = '';
      }
    }
    yield `${batch}</lote>\n`;
  }
  return {
    entity: 'nfe_invoices',
    format: 'xml',
    contentType: 'application/xml',
    tables: ['nfe_invoice_items', 'nfe_invoices'],
    chunks,
    written,
  };
}

function invoiceXml(invoice: number): string {
  // 44 digits: state, month, issuer CNPJ, model, series, number, code.
  const number = String(invoice).padStart(9, '0');
  const key = `3518083412874500015255001${number}1${String(invoice % 1e8).padStart(8, '0')}9`;
  let items = '';
  for (let item = 1; item <= itemsPerInvoice; item++) {
    const seed = invoice * itemsPerInvoice + item;
    const quantity = `${(seed % 50) + 1}.${String(seed % 10000).padStart(4, '0')}`;
    const price = `${(seed % 90) + 1}.${String((seed * 7919) % 10_000_000).padStart(7, '0')}`;
    items +=
      `<det nItem="${item}"><prod><cProd>${seed % 5000}</cProd>` +
      `<xProd>PRODUTO ${seed % 5000} &amp; CIA 500G</xProd>` +
      '<NCM>19041000</NCM><CFOP>5401</CFOP><uCom>UN</uCom>' +
      `<qCom>${quantity}</qCom><vUnCom>${price}</vUnCom>` +
      `<vProd>${(seed % 1000) + 1}.${String(seed % 100).padStart(2, '0')}</vProd>` +
      '</prod></det>\n';
  }
  return (
    `<NFe><infNFe versao="4.00" Id="NFe${key}">\n` +
    `<ide><mod>55</mod><serie>1</serie><nNF>${invoice % 1e9}</nNF>` +
    '<dhEmi>2018-08-17T15:28:31-03:00</dhEmi></ide>\n' +
    '<emit><CNPJ>34128745000152</CNPJ><xNome>Alimentos Ltda.</xNome></emit>\n' +
    '<dest><CNPJ>95398560000152</CNPJ><xNome>COMERCIAL LTDA</xNome></dest>\n' +
    items +
    '<total><ICMSTot><vProd>3115.23</vProd><vNF>3251.92</vNF></ICMSTot></total>\n' +
    '</infNFe></NFe>\n'
  );
}
