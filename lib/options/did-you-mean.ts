// "did you mean healthCheck?" for an unknown option key: the known key nearest to it.

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits of one substring). */
export function editDistance (a: string, b: string): number {
  const rows: number[][] = []
  for (let i = 0; i <= a.length; i++) rows.push([i])
  for (let j = 1; j <= b.length; j++) rows[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1)
      rows[i][j] = d
    }
  }
  return rows[a.length][b.length]
}

/**
 * The known key `word` most likely meant: one that differs only in case first, else the nearest
 * within 2 edits (a third of the word's length for longer words; 1 edit for words of 3 letters or
 * fewer, where 2 edits make almost any short key "near"). Undefined when none is that near.
 */
export function didYouMean (word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase()
  const sameLetters = known.find((key) => key.toLowerCase() === lower)
  if (sameLetters !== undefined) return sameLetters
  const limit = word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3))
  let best: string | undefined
  let bestDistance = limit + 1
  for (const key of known) {
    const distance = editDistance(lower, key.toLowerCase())
    if (distance < bestDistance) {
      best = key
      bestDistance = distance
    }
  }
  return best
}
