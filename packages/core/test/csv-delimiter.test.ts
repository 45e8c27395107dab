import { describe, expect, it } from 'vitest';
import { detectDelimiter } from '../src/readers/csv-delimiter.js';

describe('detectDelimiter', () => {
  it('picks each candidate on a plain file', () => {
    expect(detectDelimiter('a,b,c\n1,2,3\n')).toBe(',');
    expect(detectDelimiter('a;b;c\n1;2;3\n')).toBe(';');
    expect(detectDelimiter('a\tb\tc\n1\t2\t3\n')).toBe('\t');
    expect(detectDelimiter('a|b|c\n1|2|3\n')).toBe('|');
  });

  it('is not swayed by commas inside the values of a ; file', () => {
    const sample =
      'sku;descricao;preco;estoque;vigencia\r\n' +
      'P-100;Parafuso sextavado M8;1.234,56;1.200;31/12/2024\r\n' +
      'P-101;Arruela lisa 8mm;9,99;15;01/02/2025\r\n' +
      'P-102;Porca, trava nylon;0,5;0;15/03/2025\r\n';
    expect(detectDelimiter(sample)).toBe(';');
  });

  it('ignores delimiters inside quotes, newlines included', () => {
    const sample = 'a;b\n"x,y,z\nw,v";1\n"p,q";2\n';
    expect(detectDelimiter(sample)).toBe(';');
  });

  it('prefers the candidate the lines agree on', () => {
    // Header has one of each; only `|` is consistent.
    const sample = 'a,x|b;y\n1|2\n3|4\n5|6\n';
    expect(detectDelimiter(sample)).toBe('|');
  });

  it('defaults to a comma for a single column', () => {
    expect(detectDelimiter('code\n001\n002\n')).toBe(',');
    expect(detectDelimiter('')).toBe(',');
  });
});
