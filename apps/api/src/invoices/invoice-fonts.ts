import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { create, type Font, type GlyphRun } from 'fontkit';

/**
 * The fonts invoices are set in, embedded (pdfkit keeps only the glyphs a document uses).
 *
 * Noto Sans (Latin with every European extension, Greek, Cyrillic) comes first; Noto Sans KR
 * (Hangul, the CJK ideographs of Korean, Chinese and Japanese use, kana) covers what it lacks.
 * Both ship as npm packages of OFL-licensed font files. Scripts neither covers (Arabic, Hebrew,
 * Thai, ...) print as '?': they need fonts and right-to-left or complex shaping of their own.
 */
export type FontStyle = 'regular' | 'bold' | 'italic';

export interface Face {
  /** The name the face is registered under in a PDF document (its PostScript name). */
  name: string;
  font: Font;
  /** The font as pdfkit is given it: see withSharedLayouts. */
  pdf: Font;
  /** Shaped words (unscaled), shared by every document: see withSharedLayouts. */
  shaped: (word: string) => GlyphRun;
}

const FILES: Record<FontStyle, readonly [pkg: string, file: string][]> = {
  regular: [
    ['@embedpdf/fonts-latin', 'NotoSans-Regular.ttf'],
    ['@embedpdf/fonts-kr', 'NotoSansKR-Regular.otf'],
  ],
  bold: [
    ['@embedpdf/fonts-latin', 'NotoSans-Bold.ttf'],
    ['@embedpdf/fonts-kr', 'NotoSansKR-Bold.otf'],
  ],
  // Noto Sans KR has no italic: Hangul and ideographs stay upright, as they are typeset anyway.
  italic: [
    ['@embedpdf/fonts-latin', 'NotoSans-Italic.ttf'],
    ['@embedpdf/fonts-kr', 'NotoSansKR-Regular.otf'],
  ],
};

const require = createRequire(import.meta.url);
const loaded = new Map<string, Face>();

/**
 * A face, read and parsed once per process (the Korean font is 4.6 MB; parsing it per invoice
 * would cost more than rendering). The packages export only their index, so the font files are
 * found beside it, in the `fonts/` folder the packages ship (the PDF tests fail if that moves).
 */
function face(pkg: string, file: string): Face {
  const key = `${pkg}/${file}`;
  let found = loaded.get(key);
  if (!found) {
    const font = create(readFileSync(join(dirname(require.resolve(pkg)), '..', 'fonts', file))) as Font;
    found = { name: font.postscriptName, font, ...withSharedLayouts(font) };
    loaded.set(key, found);
  }
  return found;
}

const LAYOUT_CACHE_LIMIT = 20_000;

/**
 * Shaping a word (kerning, ligatures: fontkit's layout) is most of what drawing text costs, and
 * pdfkit remembers it per document only, while every invoice draws the same words again. So pdfkit
 * gets the font with layout() remembered across documents. pdfkit scales the positions it is
 * given in place, so each call gets its own copy of them.
 */
function withSharedLayouts(font: Font): { pdf: Font; shaped: (word: string) => GlyphRun } {
  const runs = new Map<string, GlyphRun>();
  const shaped = (word: string): GlyphRun => {
    let run = runs.get(word);
    if (!run) {
      if (runs.size >= LAYOUT_CACHE_LIMIT) runs.clear();
      run = font.layout(word);
      runs.set(word, run);
    }
    return run;
  };
  const layout = (text: string, features?: unknown) => {
    if (features !== undefined) return font.layout(text, features as never);
    const { glyphs, positions: shared } = shaped(text);
    const positions = shared.map((position) => ({ ...position }));
    return { glyphs, positions, get advanceWidth() { return positions.reduce((sum, p) => sum + p.xAdvance, 0); } };
  };
  const pdf = new Proxy(font, { get: (target, property) => (property === 'layout' ? layout : Reflect.get(target, property, target)) });
  return { pdf, shaped };
}

/** The faces of a style in the order they are tried for each character; each loaded on first use. */
const stacks = Object.fromEntries(
  Object.entries(FILES).map(([style, files]) => [style, files.map(([pkg, file]) => () => face(pkg, file))]),
) as Record<FontStyle, (() => Face)[]>;

/**
 * The advance width of `text` in `face`, in thousandths of the font size, measured word by word
 * as pdfkit does (a word ends after a space or a tab), so it equals what pdfkit draws.
 */
export function advance(face: Face, text: string): number {
  let total = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && text[i] !== ' ' && text[i] !== '\t') continue;
    const word = text.slice(start, i + 1);
    start = i + 1;
    if (word) total += face.shaped(word).advanceWidth;
  }
  return (total * 1000) / face.font.unitsPerEm;
}

export interface Run {
  text: string;
  face: Face;
}

const DROPPED = /[\p{Cc}\p{Cf}]/u; // control and format characters (zero-width, bidi marks)
const BLANK = /[\t\n\r]/;
const MARK = /\p{M}/u;

/**
 * Splits text into runs that one face can print, keeping a character in the face of the one before
 * it when that face has it (so '주식회사 한빛' stays one run, space included). Tabs and line breaks
 * become spaces, control and format characters are dropped, and a character no face has becomes
 * its base letter without accents when a face has that, or else '?'.
 */
export function runs(text: string, style: FontStyle): readonly Run[] {
  const key = `${style}\u0000${text}`;
  let found = split.get(key);
  if (!found) {
    if (split.size >= LAYOUT_CACHE_LIMIT) split.clear();
    found = splitRuns(text, style);
    split.set(key, found);
  }
  return found;
}

/** runs() of the strings seen lately: an invoice measures each string several times while laying it out. */
const split = new Map<string, readonly Run[]>();

function splitRuns(text: string, style: FontStyle): readonly Run[] {
  const stack = stacks[style];
  const out: Run[] = [];
  const faceFor = (cp: number, current: Face | undefined): Face | undefined => {
    if (current?.font.hasGlyphForCodePoint(cp)) return current;
    for (const load of stack) {
      const candidate = load();
      if (candidate.font.hasGlyphForCodePoint(cp)) return candidate;
    }
    return undefined;
  };
  const push = (ch: string, chosen: Face) => {
    const last = out[out.length - 1];
    if (last && last.face === chosen) last.text += ch;
    else out.push({ text: ch, face: chosen });
  };
  for (let ch of text.normalize('NFC')) {
    if (BLANK.test(ch)) ch = ' ';
    else if (DROPPED.test(ch)) continue;
    const current = out[out.length - 1]?.face;
    const chosen = faceFor(ch.codePointAt(0)!, current);
    if (chosen) {
      push(ch, chosen);
      continue;
    }
    if (MARK.test(ch)) continue; // a combining mark no face has: its base letter stands alone
    const base = ch.normalize('NFD').replace(/\p{M}/gu, '');
    const baseFace = base && base !== ch && [...base].length === 1 ? faceFor(base.codePointAt(0)!, current) : undefined;
    if (baseFace) push(base, baseFace);
    else push('?', faceFor(0x3f, current)!);
  }
  return out;
}
