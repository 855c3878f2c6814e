/** Plain text (and any other decodable file): the whole text, one untitled section. */
import { wholeText, type TextUnit } from '../types.js';

export function parsePlain(text: string): TextUnit {
  return { text, sections: wholeText(text), metadata: {}, locator: null };
}
