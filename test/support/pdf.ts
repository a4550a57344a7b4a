import type { TestApi } from './api.js';
import { ADMIN } from './api.js';

/** GET a PDF route with the given headers and answer its bytes. */
export async function fetchPdf(api: TestApi, path: string, headers: Record<string, string> = ADMIN): Promise<{ pdf: Buffer; headers: Record<string, string> }> {
  const res = await api
    .http()
    .get(path)
    .set(headers)
    .buffer(true)
    .parse((response, done) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done(null, Buffer.concat(chunks)));
    })
    .expect(200);
  return { pdf: res.body as Buffer, headers: res.headers as Record<string, string> };
}

/** The text of a PDF as pdf.js extracts it: its text items joined by spaces, pages by line breaks. */
export async function pdfText(pdf: Buffer): Promise<string> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await getDocument({ data: new Uint8Array(pdf), useSystemFonts: false, disableFontFace: true }).promise;
  const pages: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    pages.push(content.items.map((item) => ('str' in item ? item.str : '')).join(' '));
  }
  await doc.destroy();
  return pages.join('\n');
}
