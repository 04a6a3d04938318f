// Banned words: matched case-insensitively as whole words or phrases (after Unicode NFKC normalization), so
// "ass" does not block "class" and "Ｂａｄ" matches "bad". Only the prompt is checked: a negative prompt lists
// what the video should avoid.

function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The first banned word or phrase the prompt contains, or undefined. */
export function findBannedWord(prompt: string, bannedWords: readonly string[]): string | undefined {
  const text = normalize(prompt);
  for (const word of bannedWords) {
    const needle = normalize(word).trim();
    if (needle === '') continue;
    const pattern = new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(needle).replace(/\s+/g, '\\s+')}(?=$|[^\\p{L}\\p{N}])`, 'u');
    if (pattern.test(text)) return word;
  }
  return undefined;
}
